#!/usr/bin/env python3
"""datatrove side of bench/corpus: the same chain on the same generated corpus.

read JSONL -> ftfy (mojibake, Unicode) -> language id (fastText, kept: fr >= 0.65) -> Gopher
repetition + Gopher quality + C4 (lorem ipsum, curly brace) -> French PII scrubbing (same rules
as fleuve: e-mail, phones, NIR with key, IBAN mod 97, birth dates) -> MinHash dedup (datatrove's
4 stages, 5-grams, 14 x 8) -> tokenization with the same Qwen3 tokenizer.json, EOS after each doc.

datatrove's default language model (lid.176.bin) cannot be downloaded here (no network beyond
PyPI), so a fastText model is trained on the same hand-written texts fleuve's identifier uses.
Exact duplicates are left to MinHash (Jaccard 1 always collides), as datatrove's examples do.

Usage: python bench/corpus/datatrove_run.py INPUT.jsonl WORKDIR TOKENIZER_JSON [--tasks 2]
Prints one JSON line: seconds per stage, docs in, kept, removed-as-duplicate ids file, peak RSS.
"""
import json
import os
import re
import resource
import sys
import time

from datatrove.data import Document
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                              MinhashDedupFilter, MinhashDedupSignature)
from datatrove.pipeline.filters import C4QualityFilter, GopherQualityFilter, GopherRepetitionFilter, LanguageFilter
from datatrove.pipeline.formatters import FTFYFormatter
from datatrove.pipeline.formatters.base import BaseFormatter
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.tokens import DocumentTokenizer
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.lid import FastTextLID

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LID_DIR = os.path.join(ROOT, "operators/corpus/language-id")
FRENCH_STOP_WORDS = ["le", "la", "les", "de", "des", "du", "un", "une", "et", "en", "à", "au", "aux", "est", "que", "qui",
                     "pour", "dans", "par", "sur", "avec", "il", "elle", "pas", "ne", "ce", "se", "son", "sa", "ses"]


def train_lid(workdir: str) -> str:
    import fasttext
    path = os.path.join(workdir, "lid-train.txt")
    with open(path, "w", encoding="utf-8") as out:
        for lang in ["fr", "en", "es", "it", "de"]:
            text = open(os.path.join(LID_DIR, f"{lang}.txt"), encoding="utf-8").read()
            for sentence in re.split(r"(?<=[.!?])\s+", text):
                if sentence.strip():
                    out.write(f"__label__{lang} {sentence.strip()}\n")
                    out.write(f"__label__{lang} {sentence.strip().lower()}\n")
    model = fasttext.train_supervised(path, minn=1, maxn=4, dim=32, epoch=300, lr=1.0, wordNgrams=1, verbose=0, thread=1, seed=1)
    model_path = os.path.join(workdir, "lid.bin")
    model.save_model(model_path)
    return model_path


class LocalLID(FastTextLID):
    def __init__(self, model_path, languages=None):
        super().__init__(languages)
        self.model_path = model_path

    @property
    def model(self):
        if self._model is None:
            from fasttext.FastText import _FastText
            self._model = _FastText(self.model_path)
        return self._model


def language_filter(model_path):
    f = LanguageFilter(languages=["fr"], language_threshold=0.65)
    f.model = LocalLID(model_path, ["fr"])
    return f


# --- French PII, the same rules as operators/corpus/pii.ts ---
EMAIL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}")
PHONE = re.compile(r"(?<![\d+])(?:(?:\+|00)33[ .-]?(?:\(0\)[ .-]?)?|0)[1-9](?:[ .-]?\d{2}){4}(?!\d)")
NIR = re.compile(r"(?<![\dA-Za-z])([12])[ .]?(\d{2})[ .]?(\d{2})[ .]?(\d{2}|2[AaBb])[ .]?(\d{3})[ .]?(\d{3})[ .]?(\d{2})(?![\dA-Za-z])")
IBAN = re.compile(r"(?<![A-Za-z0-9])([A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?)(?![A-Za-z0-9])")
MONTHS = "janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre|décembre|decembre"
DATE = rf"(?:\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}|(?:1er|\d{{1,2}})\s+(?:{MONTHS})\s+\d{{4}})"
BIRTH = re.compile(rf"(\b(?:née?s?|né\(e\))\s+le\s+|\bdate\s+de\s+naissance\s*:?\s*(?:le\s+)?)({DATE})", re.IGNORECASE)


def nir_ok(m):
    sex, year, month, dept, commune, order, key = m.groups()
    d = dept.upper()
    d = "19" if d == "2A" else "18" if d == "2B" else d
    return 97 - int(f"{sex}{year}{month}{d}{commune}{order}") % 97 == int(key)


def iban_ok(s):
    s = s.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    r = s[4:] + s[:4]
    return int("".join(str(ord(c) - 55) if c.isalpha() else c for c in r)) % 97 == 1


def scrub(text):
    if "@" in text:
        text = EMAIL.sub("[EMAIL]", text)
    if any(c.isdigit() for c in text):
        text = IBAN.sub(lambda m: "[IBAN]" if iban_ok(m.group(0)) else m.group(0), text)
        text = NIR.sub(lambda m: "[NIR]" if nir_ok(m) else m.group(0), text)
        text = PHONE.sub("[TELEPHONE]", text)
        text = BIRTH.sub(lambda m: m.group(1) + "[DATE_NAISSANCE]", text)
    return text


class FrenchPII(BaseFormatter):
    name = "French PII"

    def format(self, text: str) -> str:
        return scrub(text)


def main():
    input_path, workdir, tokenizer = sys.argv[1], sys.argv[2], sys.argv[3]
    tasks = int(sys.argv[sys.argv.index("--tasks") + 1]) if "--tasks" in sys.argv else 2
    os.makedirs(workdir, exist_ok=True)
    t0 = time.time()
    lid = train_lid(workdir)
    config = MinhashConfig()  # 5-grams, 14 buckets x 8 hashes: datatrove's defaults
    # The reader splits one file by line ranges only with several files; give each task its own file.
    shards_dir = os.path.join(workdir, "input")
    os.makedirs(shards_dir, exist_ok=True)
    outs = [open(os.path.join(shards_dir, f"{i:05d}.jsonl"), "w", encoding="utf-8") for i in range(tasks)]
    with open(input_path, encoding="utf-8") as f:
        for n, line in enumerate(f):
            outs[n % tasks].write(line)
    for o in outs:
        o.close()
    timings = {"split-input": time.time() - t0}

    def run(name, pipeline, n_tasks, workers):
        start = time.time()
        LocalPipelineExecutor(pipeline=pipeline, tasks=n_tasks, workers=workers, logging_dir=os.path.join(workdir, "logs", name)).run()
        timings[name] = time.time() - start

    run("filter+signatures", [
        JsonlReader(shards_dir, text_key="text", id_key="id"),
        FTFYFormatter(),
        language_filter(lid),
        GopherRepetitionFilter(language="fra"),
        GopherQualityFilter(language="fra", stop_words=FRENCH_STOP_WORDS),
        C4QualityFilter(filter_no_terminal_punct=False, min_num_sentences=-1, min_words_per_line=-1, remove_citations=False, language="fra"),
        FrenchPII(),
        JsonlWriter(os.path.join(workdir, "filtered"), compression=None),
        MinhashDedupSignature(os.path.join(workdir, "signatures"), config=config, language="fra"),
    ], tasks, tasks)
    run("buckets", [MinhashDedupBuckets(os.path.join(workdir, "signatures"), os.path.join(workdir, "buckets"), config=config)],
        config.num_buckets, tasks)
    run("cluster", [MinhashDedupCluster(os.path.join(workdir, "buckets"), os.path.join(workdir, "remove_ids"), config=config)], 1, 1)
    run("dedup+tokenize", [
        JsonlReader(os.path.join(workdir, "filtered"), text_key="text", id_key="id"),
        MinhashDedupFilter(os.path.join(workdir, "remove_ids"), exclusion_writer=JsonlWriter(os.path.join(workdir, "removed"), compression=None)),
        DocumentTokenizer(os.path.join(workdir, "tokens"), tokenizer_name_or_path=tokenizer, eos_token="<|im_end|>"),
    ], tasks, tasks)
    total = time.time() - t0

    def ids(folder):
        out = []
        d = os.path.join(workdir, folder)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            with open(os.path.join(d, name), encoding="utf-8") as f:
                out += [json.loads(l)["id"] for l in f if l.strip()]
        return out

    filtered = ids("filtered")
    removed = ids("removed")
    with open(os.path.join(workdir, "reached.json"), "w") as f:
        json.dump(filtered, f)
    with open(os.path.join(workdir, "removed.json"), "w") as f:
        json.dump(removed, f)
    # CPU time is not reported: the workers run under multiprocess's forkserver, which
    # getrusage(RUSAGE_CHILDREN) of this process does not see (it reported 4 s for a 19-minute run).
    cpu = None
    peak_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(json.dumps({"seconds": total, "timings": timings, "reached": len(filtered), "removed": len(removed), "kept": len(filtered) - len(removed),
                      "peakRssMb": peak_kb / 1024, "cpuSeconds": cpu, "tasks": tasks}))


if __name__ == "__main__":
    main()
