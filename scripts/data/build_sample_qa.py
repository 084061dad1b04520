#!/usr/bin/env python3
"""Writes fleuve's bundled sample QA data (data/qa/) from the sources next to this script.

  python3 scripts/data/build_sample_qa.py

Layouts written are the public ones the loaders read: FrenchMedMCQA raw JSON lines (mcqa),
flat SQuAD (extqa), MediQAl oeq (absqa). Every extractive answer's offset is computed here
from the context and checked to be the exact span; the TypeScript loader checks it again.
"""
import hashlib
import json
import os
import random
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from sample_mcqa import MCQA, MCQA_TRAIN  # noqa: E402
from sample_extqa import CASES, N_TEST_CASES  # noqa: E402
from sample_absqa import ABSQA, ABSQA_TRAIN  # noqa: E402

root = os.path.join(here, "..", "..", "data", "qa")


def write(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{path}: {len(rows)} items")


def mcqa_rows(items, prefix):
    rows = []
    for i, (question, options, correct) in enumerate(items, 1):
        assert len(options) == 5 and all(o.strip() for o in options), question
        assert correct and all(c in "abcde" for c in correct), question
        # The sources list the right answers first; shuffle the options, seeded by the question,
        # so the position of the right answer carries no signal.
        order = list(range(5))
        random.Random(int(hashlib.sha256(question.encode()).hexdigest()[:8], 16)).shuffle(order)
        options = [options[j] for j in order]
        correct = "".join(sorted("abcde"[order.index("abcde".index(c))] for c in correct))
        rows.append({
            "id": f"{prefix}-{i:04d}",
            "question": question,
            "answers": dict(zip("abcde", options)),
            "correct_answers": list(correct),
            "type": "multiple" if len(correct) > 1 else "simple",
            "nbr_correct_answers": len(correct),
        })
    return rows


def extqa_rows(cases, prefix):
    rows = []
    for c, (context, qas) in enumerate(cases, 1):
        for q, (question, answer) in enumerate(qas, 1):
            start = context.find(answer)
            assert start >= 0, f"answer {answer!r} not in case {c}"
            assert context[start:start + len(answer)] == answer
            rows.append({
                "id": f"{prefix}-c{c:02d}-q{q}",
                "context": context,
                "question": question,
                "answers": {"text": [answer], "answer_start": [start]},
            })
    return rows


def absqa_rows(items, prefix):
    return [
        {"id": f"{prefix}-{i:04d}", **({"clinical_case": case} if case else {}), "question": q, "answer": ref}
        for i, (case, q, ref) in enumerate(items, 1)
    ]


questions = [q for q, _, _ in MCQA + MCQA_TRAIN]
assert len(set(questions)) == len(questions), "duplicate MCQA question"
write(os.path.join(root, "mcqa", "test.jsonl"), mcqa_rows(MCQA, "mcqa"))
write(os.path.join(root, "mcqa", "train.jsonl"), mcqa_rows(MCQA_TRAIN, "mcqa-train"))
write(os.path.join(root, "extqa", "test.jsonl"), extqa_rows(CASES[:N_TEST_CASES], "extqa"))
write(os.path.join(root, "extqa", "train.jsonl"), extqa_rows(CASES[N_TEST_CASES:], "extqa-train"))
write(os.path.join(root, "absqa", "test.jsonl"), absqa_rows(ABSQA, "absqa"))
write(os.path.join(root, "absqa", "train.jsonl"), absqa_rows(ABSQA_TRAIN, "absqa-train"))
