#!/usr/bin/env bash
# The EnMed-0.6B study on the GPU host (issue 17), and issue 22's measures in the same call.
# Staged here by bench/gpu/prepare-study.sh into .device/study (carried); run from the checkout's
# root on the GPU host:
#
#   STEPS="setup partb smoke study" bash .device/study/run-study.sh
#
# Everything it makes lives in .device/work (ignored, never carried, so kept between calls on a warm
# machine): the unpacked bundle, the random Qwen3-0.6B checkpoint, the study's warehouse and its
# step outputs. A second call on the same machine resumes the study from them (`fleuve study`
# skips the steps whose outputs are there). What comes back in $OUT (8 files at most): log.txt
# (everything), partb-*.jsonl, smoke.jsonl, study-report.tar.xz, study-warehouse.duckdb.xz.
#
# STEPS (default "setup study"):
#   setup   unpack the bundle (once per staged commit), write the random checkpoint (once)
#   partb   issue 22: fleuve's WGSL scoring engine and LoRA trainer on the 0.6B shape with a
#           timestamp profile (bench/gpu/kernels.ts --only-model --profile), then the PyTorch peer
#           (bf16/fp32 scoring, generate, LoRA + peft) on the same card
#   smoke   the study's building blocks through the CLI on the random 0.6B checkpoint, timed: LoRA
#           on all projections over the packed corpus on the WGSL trainer (the DAPT the study can
#           run), full-parameter DAPT on the tfjs runtime (1 step), option scoring and generation
#   tests   the GPU tests prepare-study.sh bundled (app/tests/*.test.mjs; TESTS="a b" for some), PAR at a time
#   checks  issue 22's stdout check (model logprobs: one JSON line an option) and QLoRA through
#           fleuve train lora --nf4 (a few steps)
#   minigrid  the base model's 5-shot grid through fleuve study, with the generation and scoring
#           timing lines, stopped after MINIGRID_SECONDS (default 150)
#   study   fleuve study $STUDY --backend webgpu, stopped with SIGINT after STUDY_SECONDS (default
#           420) so that it ends cleanly and the next call resumes
#   memory  issue 22 item 5: nvidia-smi's memory in use beside fleuve's own count of its buffers
#           (bench-kernels.mjs --memory: 0.6B scoring and LoRA, 14B NF4 QLoRA and scoring), then
#           PyTorch's scoring and LoRA with max_memory_allocated (NO_CHECKPOINT=1 skips the random
#           0.6B checkpoint, which this step does not need)
#   launch  fleuve study $STUDY in its own process session (setsid): it outlives the call, and the
#           machine stays while calls follow within its idle release — one process start to report
#   follow  the launched study's log and the GPU memory in use (nvidia-smi, every 10 s) until it
#           ends or FOLLOW_SECONDS (default 540) pass; call again to keep following
#
# One study process on one warm machine, e.g.:
#   STEPS="setup launch follow" TESTS=engine-scorer bash .device/study/run-study.sh   # first call
#   STEPS=follow bash .device/study/run-study.sh                                        # each next call, at once
set -uo pipefail
ROOT=$PWD
S=$ROOT/.device/study
W=$ROOT/.device/work
OUT=${OUT:-/tmp/out}
mkdir -p "$W" "$OUT"
LOG=$OUT/log.txt
exec > >(tee -a "$LOG") 2>&1
say() { echo "== $(date -u +%H:%M:%S) $*"; }
FL=$W/fleuve
RUN=$W/run                       # the study's working folder: studies/, data/, models/
MODEL=$W/models/qwen3-${SHAPE:-0.6b}-random
STUDY=${STUDY:-studies/enmed-qwen3-0.6b.yaml}
# For a dry run of this script on a machine without a GPU: SHAPE=tiny BACKEND=cpu TRAIN_ENGINE=auto
# SMOKE_SEQ=64 SMOKE_BATCH=2 PYTHON=<a python with torch>.
SHAPE=${SHAPE:-0.6b}
BACKEND=${BACKEND:-webgpu}
TRAIN_ENGINE=${TRAIN_ENGINE:-wgsl}
PYTHON=${PYTHON:-python3}
fleuve() { "$FL/run.sh" "$@"; }
timed() { local t0; t0=$(date +%s%N); "$@"; local rc=$?; local ms=$(( ($(date +%s%N) - t0) / 1000000 )); echo "   [$((ms / 1000)).$(printf %03d $((ms % 1000))) s, rc $rc] $*" >&2; return $rc; }

setup() {
  local commit; commit=$(cat "$S/COMMIT")
  if [ "$(cat "$W/UNPACKED" 2>/dev/null)" != "$commit" ]; then
    say "unpacking the bundle of $commit"
    rm -rf "$FL" "$RUN/studies" "$RUN/data" "$RUN/tokenizer-qwen3" "$RUN/scripts" "$RUN/bench"
    mkdir -p "$W" "$RUN"
    xz -dc "$S/natives.tar.xz" | tar -C "$W" -xf -
    xz -dc "$S/app.tar.xz" | tar -C "$W" -xf -
    xz -dc "$S/inputs.tar.xz" | tar -C "$RUN" -xf -
    mkdir -p "$FL/app/dist/linux-x64" && ln -sf ../../node_modules/webgpu/dist/linux-x64/dawn.node "$FL/app/dist/linux-x64/dawn.node"
    echo "$commit" > "$W/UNPACKED"
  fi
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  if [ -z "${NO_CHECKPOINT:-}" ] && [ ! -f "$MODEL/model.safetensors" ]; then
    say "random Qwen3-0.6B-shaped checkpoint"
    timed $PYTHON "$RUN/scripts/models/random-qwen3.py" "$MODEL" --shape $SHAPE --tokenizer "$RUN/tokenizer-qwen3" || return 1
  fi
  [ -n "${NO_CHECKPOINT:-}" ] && return 0
  mkdir -p "$RUN/models" && ln -sfn "$MODEL" "$RUN/models/$(basename "$MODEL")"
  ls -la "$MODEL"
}

partb() {
  say "issue 22: WGSL scoring engine and LoRA trainer, 0.6B shape (bench/gpu/kernels.ts --only-model --profile)"
  (cd "$FL/app" && LD_LIBRARY_PATH=$FL/lib VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json} \
    timeout ${PARTB_TIMEOUT:-300} "$FL/bin/node" bench-kernels.mjs --only-model --profile ${PARTB_ARGS:-} 2>&1) \
    | grep --line-buffered "^{" > "$OUT/partb-webgpu.jsonl"; cut -c1-400 "$OUT/partb-webgpu.jsonl"
  say "issue 22: PyTorch peer (scoring bf16/fp32, generate, LoRA + peft)"
  PYTHONUNBUFFERED=1 timeout ${TORCH_TIMEOUT:-300} python3 "$RUN/bench/gpu/torch_peer.py" --only-model ${TORCH_ARGS:-} 2>&1 | grep --line-buffered "^{" > "$OUT/partb-torch.jsonl"
  say "PyTorch peer, full-parameter DAPT at 0.6B (AdamW, f32 master weights)"
  PYTHONUNBUFFERED=1 timeout ${TORCH_FULL_TIMEOUT:-120} python3 "$RUN/bench/gpu/torch_peer.py" --only-full-training 2>&1 | grep --line-buffered "^{" >> "$OUT/partb-torch.jsonl"
  cut -c1-400 "$OUT/partb-torch.jsonl"
}

smoke() {
  cd "$RUN" || return 1
  local corpus=data/enmed-sized/corpus/demo.jsonl
  has() { [[ " ${SMOKE_PARTS:-lora merge full eval} " == *" $1 "* ]]; }
  if has lora; then
  say "LoRA r16 on all 7 projections over the packed corpus, WGSL trainer (DAPT by LoRA)"
  rm -rf "$W/smoke/dapt-lora"
  timed fleuve train lora --model "$MODEL" --data $corpus --out "$W/smoke/dapt-lora" --backend $BACKEND --engine $TRAIN_ENGINE \
    --seq-len ${SMOKE_SEQ:-1024} --micro-batch ${SMOKE_BATCH:-16} --grad-accum 1 --steps ${SMOKE_STEPS:-6} --r 16 --alpha 32 --dropout 0.05 --lr 2e-4
  fi
  if has merge; then
  say "merge it into the base (the DAPT checkpoint the task adapters would train on)"
  timed fleuve train merge --model "$MODEL" --adapter "$W/smoke/dapt-lora/final" --out "$W/smoke/dapt-merged" --dtype bf16 --backend $BACKEND
  fi
  if has full; then
  say "full-parameter DAPT on the tfjs runtime ($BACKEND backend), 1 step of 1 x ${SMOKE_FULL_SEQ:-512}"
  timed timeout ${SMOKE_FULL_TIMEOUT:-150} "$FL/run.sh" train dapt --model "$MODEL" --data $corpus --out "$W/smoke/dapt-full" --backend $BACKEND --seq-len ${SMOKE_FULL_SEQ:-512} --micro-batch 1 --grad-accum 1 --steps 1
  fi
  if has eval; then
  say "option scoring (fleuve model logprobs) and generation (fleuve model generate), MCQA test items"
  $PYTHON - "$RUN/data/enmed-sized/qa/mcqa/test.jsonl" "$W/smoke" ${SMOKE_ITEMS:-200} <<'PY'
import json, sys
items = [json.loads(l) for l in open(sys.argv[1])]
with open(sys.argv[2] + "/options.jsonl", "w") as f:
    for it in items[:int(sys.argv[3])]:
        ctx = "Question : " + it["question"] + "\nRéponse :"
        for k, v in it["answers"].items():
            f.write(json.dumps({"id": f'{it["id"]}-{k}', "context": ctx, "continuation": " " + v}, ensure_ascii=False) + "\n")
with open(sys.argv[2] + "/prompts.jsonl", "w") as f:
    for it in items[:min(64, int(sys.argv[3]))]:
        f.write(json.dumps({"id": it["id"], "prompt": "Question : " + it["question"] + "\nRéponse :"}, ensure_ascii=False) + "\n")
PY
  timed fleuve model logprobs --model "$MODEL" --input "$W/smoke/options.jsonl" --backend $BACKEND --context-window 2048 > "$W/smoke/logprobs.out"
  echo "   $(wc -l < "$W/smoke/logprobs.out") option lines scored (base)"
  timed fleuve model logprobs --model "$W/smoke/dapt-merged" --input "$W/smoke/options.jsonl" --backend $BACKEND --context-window 2048 > "$W/smoke/logprobs-merged.out"
  timed fleuve model logprobs --model "$MODEL" --adapter "$W/smoke/dapt-lora/final" --input "$W/smoke/options.jsonl" --backend $BACKEND --context-window 2048 > "$W/smoke/logprobs-adapter.out"
  $PYTHON - "$W/smoke" <<'PY'
import json, sys
d = sys.argv[1]
read = lambda f: {o["id"]: o["logprob"] for o in map(json.loads, open(f"{d}/{f}"))}
m, a, b = read("logprobs-merged.out"), read("logprobs-adapter.out"), read("logprobs.out")
gap = max(abs(m[k] - a[k]) for k in m)
moved = max(abs(a[k] - b[k]) for k in a)
print(f"   merged (bf16) vs base + adapter: largest option log-prob gap {gap:.4f} over {len(m)} options; adapter vs base: {moved:.4f}")
PY
  timed fleuve model generate --model "$MODEL" --input "$W/smoke/prompts.jsonl" --backend $BACKEND --max-new-tokens 32 --context-window 2048 > "$W/smoke/generate.out"
  echo "   $(wc -l < "$W/smoke/generate.out") generations"
  fi
  cd "$ROOT"
}

tests() {
  # GPU tests bundled by prepare-study.sh (app/tests/*.test.mjs), PAR at a time; fixtures from the checkout
  say "GPU tests: ${TESTS:-all bundled}"
  local names=${TESTS:-$(cd "$FL/app/tests" 2>/dev/null && ls *.test.mjs | sed 's/\.test\.mjs$//')}
  mkdir -p /tmp/test-logs
  local pids=()
  for t in $names; do
    (cd "$FL/app/tests" && FLEUVE_TEST_GPU_ONLY=1 FLEUVE_TEST_FIXTURES=$ROOT/test/fixtures XDG_RUNTIME_DIR=/tmp LD_LIBRARY_PATH=$FL/lib VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json} \
      timeout ${TEST_TIMEOUT:-150} "$FL/bin/node" --test --test-force-exit --test-reporter=spec $t.test.mjs > /tmp/test-logs/$t.txt 2>&1) &
    pids+=($!)
    # (a plain `wait` would also wait for the log's tee, which ends only with this script)
    while [ "$(jobs -rp | wc -l)" -ge "${PAR:-4}" ]; do wait -n "${pids[@]}" 2>/dev/null || true; done
  done
  wait "${pids[@]}"
  for t in $names; do
    echo "-- $t: $(grep -E '^ℹ (pass|fail|skipped)' /tmp/test-logs/$t.txt | tr '\n' ' ')"
    grep -E "✖|﹣" /tmp/test-logs/$t.txt | grep -v "^ℹ" | head -6 | cut -c1-300
  done
  for t in $names; do echo "=== $t"; grep -v -e "deprecated" -e "^ *\^" -e "Compilation log" -e "warning" /tmp/test-logs/$t.txt; done > "$OUT/tests.txt"
}

checks() {
  cd "$RUN" || return 1
  mkdir -p "$W/checks"
  # issue 22: stdout carries only results (Dawn's compilation logs go to stderr through run.sh's FLEUVE_RESULTS_FD)
  say "issue 22: fleuve model logprobs, stdout lines against options"
  $PYTHON - "$RUN/data/enmed-sized/qa/mcqa/test.jsonl" "$W/checks/options.jsonl" ${CHECK_ITEMS:-200} <<'PY'
import json, sys
items = [json.loads(l) for l in open(sys.argv[1])]
with open(sys.argv[2], "w") as f:
    for it in items[:int(sys.argv[3])]:
        for k, v in it["answers"].items():
            f.write(json.dumps({"id": f'{it["id"]}-{k}', "context": "Question : " + it["question"] + "\nRéponse :", "continuation": " " + v}, ensure_ascii=False) + "\n")
PY
  timed fleuve model logprobs --model "$MODEL" --input "$W/checks/options.jsonl" --backend $BACKEND --context-window 2048 > "$W/checks/logprobs.out" 2> "$W/checks/logprobs.err"
  local want got json
  want=$(wc -l < "$W/checks/options.jsonl"); got=$(wc -l < "$W/checks/logprobs.out"); json=$(grep -c '^{' "$W/checks/logprobs.out")
  echo "   stdout: $got lines ($json JSON) for $want options; stderr: $(wc -l < "$W/checks/logprobs.err") lines, $(grep -c deprecated "$W/checks/logprobs.err") with 'deprecated'"
  [ "$got" = "$want" ] && [ "$json" = "$want" ] && echo "   ISSUE22 OK" || { echo "   ISSUE22 FAIL"; head -3 "$W/checks/logprobs.out" | cut -c1-200; }
  # QLoRA through fleuve train lora --nf4 (3 steps over the packed corpus)
  say "QLoRA: fleuve train lora --nf4, ${QLORA_STEPS:-3} steps of 4 x 512"
  rm -rf "$W/checks/qlora"
  if timed fleuve train lora --nf4 --model "$MODEL" --data data/enmed-sized/corpus/demo.jsonl --out "$W/checks/qlora" --backend $BACKEND --engine $TRAIN_ENGINE \
      --seq-len 512 --micro-batch 4 --grad-accum 1 --steps ${QLORA_STEPS:-3} --r 16 --alpha 32 --dropout 0.05 --lr 2e-4 2>&1 | grep -v -e deprecated -e "^ *\^" -e "Compilation log" -e "warning" | tail -6; then
    [ -f "$W/checks/qlora/final/adapter_model.safetensors" ] && echo "   QLORA OK" || echo "   QLORA FAIL (no adapter)"
  else echo "   QLORA FAIL"; fi
  cd "$ROOT"
}

minigrid() {
  # the grid's generation and scoring through the study runner, timed: the base model alone, 5 shots,
  # every test item (622 MCQA, 207 ExtQA, 248 AbsQA), stopped after MINIGRID_SECONDS
  cd "$RUN" || return 1
  cat > studies/minigrid.yaml <<YAML
version: 1
name: minigrid
description: the grid's 5-shot cells for the random base model alone (GPU smoke)
base:
  checkpoint: ../models/$(basename "$MODEL")
systems:
  - { name: Qwen3-0.6B-vanilla, model: base }
datasets:
  manifest: ../data/enmed-sized/qa/manifest.json
shots: [5]
decoding: { maxNewTokens: 32 }
judges:
  panel: [{ kind: offline-reference }]
analysis:
  reference: Qwen3-0.6B-vanilla
  metrics: { mcqa: acc, extqa: f1, absqa: judge }
YAML
  say "minigrid: the base model's 5-shot cells through fleuve study (stopped after ${MINIGRID_SECONDS:-150} s)"
  FLEUVE_GENERATION_LOG=1 FLEUVE_SCORING_LOG=1 timed timeout -s INT -k 15 ${MINIGRID_SECONDS:-150} "$FL/run.sh" study studies/minigrid.yaml --backend $BACKEND --warehouse minigrid.duckdb --out minigrid-out 2>&1 \
    | grep -v -e deprecated -e "^ *\^" -e "Compilation log" -e "warning:" -e "^$"
  cd "$ROOT"
}

study() {
  cd "$RUN" || return 1
  [ -f "$STUDY" ] || { echo "no $STUDY in the staged inputs (is fleuve study on main yet?)"; cd "$ROOT"; return 1; }
  if [ "${STUDY_VARIANT:-}" = f16-adapters ]; then
    # The adapters over the f16 DAPT model instead of its NF4 copy: on main at 0587070 the study's
    # nf4 step writes one NF4 safetensors file and the next stage then looks for a model folder
    # there ("no config.json"), and `fleuve train` has no NF4 base anyway (the WGSL trainer's
    # QLoRA is reachable from bench/gpu/kernels.ts only). Everything else is the study as written.
    sed 's/, nf4: true//' "$STUDY" > "${STUDY%.yaml}-f16-adapters.yaml"
    STUDY=${STUDY%.yaml}-f16-adapters.yaml
    grep -c "nf4" "$STUDY"
  fi
  say "fleuve study $STUDY (stopped with SIGINT after ${STUDY_SECONDS:-420} s; rerun resumes)"
  FLEUVE_GENERATION_LOG=1 FLEUVE_SCORING_LOG=1 timed timeout -s INT -k ${STUDY_KILL:-30} ${STUDY_SECONDS:-420} "$FL/run.sh" study "$STUDY" --backend $BACKEND --warehouse ${WAREHOUSE:-fleuve.duckdb} ${STUDY_ARGS:-} 2>&1 \
    | grep --line-buffered -v -e deprecated -e "^ *\^" -e "Compilation log" -e "warning:" -e "^$"
  cd "$ROOT"
}

memory() {
  # issue 22 item 5: the GPU memory the driver reports (nvidia-smi every 100 ms, the whole card)
  # while fleuve's scoring and LoRA runs at 0.6B and its QLoRA and scoring at 14B NF4 run
  # (bench-kernels.mjs --memory: phase lines with wall-clock times, and fleuve's own count of its
  # buffers), then PyTorch's scoring and LoRA with their max_memory_allocated, on the same card
  say "issue 22: GPU memory read from the driver beside fleuve's own count (bench-kernels.mjs --memory), then PyTorch's max_memory_allocated"
  nvidia-smi --query-gpu=timestamp,memory.used --format=csv,noheader,nounits -lms 100 > "$OUT/memory-smi.csv" 2>/dev/null &
  local smi=$!
  echo "{\"kind\":\"clock\",\"date_utc\":\"$(date -u '+%Y/%m/%d %H:%M:%S.%3N')\",\"t\":$(date +%s%3N)}" > "$OUT/memory-webgpu.jsonl"
  # MEMORY_PHASES="a|b": each named run in its own process (Dawn keeps freed memory for reuse);
  # unset: all of them in one process
  local phases=()
  IFS='|' read -ra phases <<< "${MEMORY_PHASES:-}"
  [ ${#phases[@]} -eq 0 ] && phases=("")
  for p in "${phases[@]}"; do
    (cd "$FL/app" && LD_LIBRARY_PATH=$FL/lib VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json} \
      timeout ${MEMORY_TIMEOUT:-200} "$FL/bin/node" bench-kernels.mjs --memory ${p:+--phase "$p"} 2>&1) | grep --line-buffered "^{" >> "$OUT/memory-webgpu.jsonl"
  done
  cut -c1-300 "$OUT/memory-webgpu.jsonl"
  [ -n "${NO_TORCH:-}" ] && { kill $smi 2>/dev/null; return; }
  PYTHONUNBUFFERED=1 timeout ${TORCH_TIMEOUT:-120} python3 "$RUN/bench/gpu/torch_peer.py" --only-model --no-generation 2>&1 | grep --line-buffered "^{" > "$OUT/memory-torch.jsonl"
  cut -c1-300 "$OUT/memory-torch.jsonl"
  kill $smi 2>/dev/null
}

launch() {
  # The study in its own process session (setsid), so that it outlives this call: the device tool
  # kills what a call leaves running except such a process, and keeps the machine while calls
  # follow each other within its idle release (30 s). `follow` then watches it, call after call:
  # one study process from start to report, with no restart (grid start, model loads) per call.
  cd "$RUN" || return 1
  [ -f "$STUDY" ] || { echo "no $STUDY in the staged inputs"; cd "$ROOT"; return 1; }
  if [ -f "$W/study.pid" ] && [ ! -f "$W/study.rc" ] && kill -0 "$(cat "$W/study.pid")" 2>/dev/null; then
    echo "a study is already running (pid $(cat "$W/study.pid")): following it"; cd "$ROOT"; return 0
  fi
  rm -f "$W/study.rc"
  say "fleuve study $STUDY --backend $BACKEND, in the background (log: $W/study.log)"
  FLEUVE_GENERATION_LOG=1 FLEUVE_SCORING_LOG=1 setsid bash -c 'echo $$ > "$1"; shift; rc=0; "$@" > "'"$W/study.log"'" 2>&1 || rc=$?; echo $rc > "'"$W/study.rc"'"' \
    _ "$W/study.pid" "$FL/run.sh" study "$STUDY" --backend $BACKEND --warehouse ${WAREHOUSE:-fleuve.duckdb} ${STUDY_ARGS:-} < /dev/null > /dev/null 2>&1 &
  sleep 2
  cd "$ROOT"
}

follow() {
  # Prints the study's new log lines (the noise of Dawn's shader compiler left out) and samples the
  # GPU's memory in use (nvidia-smi) every 10 s, until the study ends or FOLLOW_SECONDS pass.
  local until=$(( $(date +%s) + ${FOLLOW_SECONDS:-540} )) shown=0 n
  touch "$W/study.log" "$W/gpu-memory.tsv"
  while :; do
    n=$(wc -l < "$W/study.log")
    if [ "$n" -gt "$shown" ]; then
      sed -n "$((shown + 1)),${n}p" "$W/study.log" | grep -v -e deprecated -e "^ *\^" -e "Compilation log" -e "warning:" -e "^$" -e "^generation: " -e "^scoring: " | cut -c1-300
      shown=$n
    fi
    echo "$(date -u +%H:%M:%S)	$(nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv,noheader,nounits 2>/dev/null | tr -d ' ' | tr ',' '\t')	$(grep -o '── step [0-9]*/[0-9]*: [a-z:A-Z0-9.-]*' "$W/study.log" | tail -1)" >> "$W/gpu-memory.tsv"
    [ -f "$W/study.rc" ] && { say "the study ended with rc $(cat "$W/study.rc")"; break; }
    [ "$(date +%s)" -ge "$until" ] && { say "still running (pid $(cat "$W/study.pid" 2>/dev/null)); follow again"; break; }
    sleep 10
  done
  cp "$W/study.log" "$OUT/study-log.txt"; cp "$W/gpu-memory.tsv" "$OUT/gpu-memory.tsv"
  sort -t$'\t' -k2,2n "$W/gpu-memory.tsv" | tail -1 | sed 's/^/   peak GPU memory in use so far (MiB, util %, step): /'
}

collect() {
  # Whatever the study wrote as its report and warehouse, if it got that far (paths per the study file).
  # (the report folder without the steps' models and adapters, which stay here for the next call)
  local report=${REPORT_DIR:-fleuve-study-enmed-qwen3-0.6b} warehouse=${WAREHOUSE:-fleuve.duckdb}
  if [ -d "$RUN/$report" ]; then tar -C "$RUN" --exclude="$report/steps" --exclude="$report/models" -cf - "$report" | xz -T8 > "$OUT/study-report.tar.xz"; fi
  if [ -f "$RUN/$warehouse" ]; then xz -T8 -c "$RUN/$warehouse" > "$OUT/study-warehouse.duckdb.xz"; fi
  [ -d "$RUN/$report/steps" ] && du -sh "$RUN/$report/steps"/* 2>/dev/null | head -30
  ls -la "$OUT"
}

for step in ${STEPS:-setup study}; do
  case $step in
    setup) setup || { echo "setup failed"; break; } ;;
    partb) partb ;;
    smoke) smoke ;;
    tests) tests ;;
    checks) checks ;;
    minigrid) minigrid ;;
    study) study ;;
    launch) launch ;;
    memory) memory ;;
    follow) follow ;;
    *) echo "unknown step $step" ;;
  esac
done
collect
