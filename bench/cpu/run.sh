#!/usr/bin/env bash
# bench/cpu: fleuve's fused CPU path (backend cpu-fused) against PyTorch (f32, 2 threads) and
# against tfjs' plain-JavaScript cpu backend (what the demo trained on before), on the same machine
# in the same run: training (full and LoRA) and scoring tokens/s of the demo's model and of a
# two-layer Qwen3-0.6B slice (shapes.json). Each measurement is its own process, the three sides
# one after another per row so they see the same machine load. Results: out/bench-cpu/results.jsonl
# and a markdown table on stdout.
#   bash bench/cpu/run.sh            # everything (the slice's cpu-backend rows are left out: minutes a step)
#   ROWS="demo:full demo:score" bash bench/cpu/run.sh
#   BASELINE=/path/to/an/older/checkout bash bench/cpu/run.sh   # also its cpu-fused, same rows, interleaved
set -euo pipefail
cd "$(dirname "$0")/../.."
bash bench/cpu/setup-torch.sh >&2
PY=.cache/bench-cpu/venv/bin/python
OUT=${OUT:-out/bench-cpu}
mkdir -p "$OUT"
: > "$OUT/results.jsonl"
ROWS=${ROWS:-"demo:full demo:lora demo:score study:full study:lora study:score h128:full h128:lora h128:score h256:full h256:lora h256:score slice:lora slice:score"}
echo "# $(date -u +%FT%TZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for row in $ROWS; do
  model=${row%%:*}
  task=${row##*:}
  sides="fleuve pytorch"
  [ "$model" = demo ] && sides="fleuve pytorch cpu"
  [ -n "${BASELINE:-}" ] && sides="baseline $sides"
  for side in $sides; do
    echo "== $model $task $side (load $(cut -d' ' -f1 /proc/loadavg))" >&2
    case $side in
      fleuve) npx tsx bench/cpu/bench.ts --model "$model" --task "$task" --backend cpu-fused ;;
      baseline) (cd "$BASELINE" && npx tsx bench/cpu/bench.ts --model "$model" --task "$task" --backend cpu-fused) | sed 's/"side":"fleuve"/"side":"baseline"/' ;;
      cpu) npx tsx bench/cpu/bench.ts --model "$model" --task "$task" --backend cpu --steps 3 ;;
      pytorch) "$PY" bench/cpu/torch_peer.py --model "$model" --task "$task" --threads 2 ;;
    esac | tail -1 | tee -a "$OUT/results.jsonl" | cut -c1-200 >&2
  done
done
node bench/cpu/table.mjs "$OUT/results.jsonl"
