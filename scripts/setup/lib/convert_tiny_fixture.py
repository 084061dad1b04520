"""llama.cpp's converter on the committed tiny Qwen3 (test/fixtures/qwen3-tiny, 384-token tokenizer).

    python convert_tiny_fixture.py LLAMA_CPP_DIR MODEL_DIR [convert_hf_to_gguf.py arguments...]

convert_hf_to_gguf.py recognises a BPE pre-tokenizer by the hash of its output on a test text, and
only knows published tokenizers. The tiny fixture's tokenizer was trained with exactly Qwen2/Qwen3's
split regex and byte-level mapping (scripts/fixtures/qwen3_tiny.py QWEN_SPLIT), so its pre-tokenizer
*is* "qwen2": this checks that the tokenizer.json's split regex is Qwen's, answers "qwen2" where the
hash is unknown, and runs the converter unchanged otherwise.
"""
import json
import os
import runpy
import sys

llama, model = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(llama, "gguf-py"))
sys.path.insert(0, llama)
import conversion.base as base  # noqa: E402

QWEN_SPLIT = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
original = base.TextModel.get_vocab_base_pre


def qwen2_if_qwen_split(self, tokenizer):
    try:
        return original(self, tokenizer)
    except NotImplementedError:
        with open(os.path.join(model, "tokenizer.json"), encoding="utf-8") as f:
            pre = json.load(f)["pre_tokenizer"]
        splits = [p for p in pre.get("pretokenizers", [pre]) if p.get("type") == "Split"]
        if len(splits) != 1 or splits[0]["pattern"].get("Regex") != QWEN_SPLIT:
            raise
        return "qwen2"


base.TextModel.get_vocab_base_pre = qwen2_if_qwen_split
sys.argv = [os.path.join(llama, "convert_hf_to_gguf.py"), model, *sys.argv[3:]]
runpy.run_path(sys.argv[0], run_name="__main__")
