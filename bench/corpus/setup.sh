#!/usr/bin/env bash
# Python side of bench/corpus and of scripts/fixtures/tokenizer.py: a venv under .cache/ with
# datatrove (the peer), spaCy (datatrove's French word tokenizer), fastText, orjson and tokenizers.
# Idempotent. Not part of `npm test`: the TypeScript suite never needs Python.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=.cache/venv-corpus
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/pip" install -q "datatrove[processing]==0.10.1" "spacy>=3.7" orjson "tokenizers==0.23.3"
"$VENV/bin/python" -c "import datatrove, spacy, fasttext, orjson, tokenizers; print('corpus bench venv ready:', datatrove.__file__)"
