// fleuve's side of bench/cpu (run.sh runs it beside torch_peer.py): training and scoring tokens/s
// of one model of shapes.json on one backend. Training is the real trainer (model/train/trainer.ts:
// forward, backward, clipping, AdamW) one optimizer step of batch × seq tokens at a time; scoring
// is Qwen3Model.forward plus pickTargets (log-softmax, the next tokens' log-probs and argmax), as
// the scoring path computes them. Random weights (normal(0, 0.02), norms 1) and tokens, seeded.
//   npx tsx bench/cpu/bench.ts --model demo|study|h128|h256|slice --task full|lora|score --backend cpu-fused|cpu [--steps N]
// Prints one JSON line.
import * as tf from "@tensorflow/tfjs-core"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { mulberry32 } from "../../lib/random.ts"
import { attachLora, type BackendName, defaultLoraConfig, defaultTrainOptions, expectedShapes, type HostTensor, parseQwen3Config, pickTargets, Qwen3Model, selectBackend, train } from "../../model/index.ts"

const { values: args } = parseArgs({ options: { model: { type: "string", default: "demo" }, task: { type: "string", default: "score" }, backend: { type: "string", default: "cpu-fused" }, steps: { type: "string" } } })
const shapes = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), "shapes.json"), "utf8"))
const shape = shapes[args.model!]
if (!shape || !shape[args.task!]) throw new Error(`no ${args.task} for model ${args.model} in shapes.json`)
const { batch, seq } = shape[args.task!] as { batch: number; seq: number }
const steps = Number(args.steps ?? shape.steps)
const choice = await selectBackend(args.backend as BackendName, args.task === "score" ? "inference" : "training")
const config = parseQwen3Config({ ...shape.config, model_type: "qwen3", rms_norm_eps: 1e-6, rope_theta: 1000000, max_position_embeddings: 4096, eos_token_id: 0 })

const rand = mulberry32(7)
const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())
const host = new Map<string, HostTensor>()
for (const [name, dims] of expectedShapes(config)) {
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1))
  if (name.endsWith("norm.weight")) data.fill(1)
  else for (let i = 0; i < data.length; i++) data[i] = 0.02 * normal()
  host.set(name, { shape: dims, data })
}
const model = Qwen3Model.fromHost(config, host, { trainable: args.task === "full" })
host.clear()
const tokens = (n: number) => Array.from({ length: n }, () => Array.from({ length: seq }, () => Math.floor(rand() * config.vocabSize)))
const seconds: Array<number> = []
// CPU seconds (user + system, all threads) per step beside wall seconds: on a machine shared with
// other jobs the wall clock measures the queue as much as the work.
const cpuSeconds: Array<number> = []
const cpuNow = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}
if (args.task === "score") {
  const ids = tokens(batch)
  const targets = ids.flatMap((row) => row.map((_, j) => row[j + 1] ?? 0))
  for (let s = 0; s < steps + 1; s++) {
    const t0 = performance.now()
    const c0 = cpuNow()
    const { logits } = model.forward(ids)
    const flat = tf.reshape(logits, [batch * seq, config.vocabSize]) as tf.Tensor2D
    await pickTargets(flat, targets)
    tf.dispose([logits, flat])
    if (s > 0) {
      // the first call warms up
      seconds.push((performance.now() - t0) / 1000)
      cpuSeconds.push(cpuNow() - c0)
    }
  }
} else {
  const out = mkdtempSync(join(tmpdir(), "fleuve-bench-cpu-"))
  if (args.task === "lora") attachLora(model, defaultLoraConfig, 3)
  const data = tokens(batch * (steps + 1)).map((ids) => ({ ids }))
  let last = performance.now()
  let lastCpu = cpuNow()
  await train(
    model,
    args.task === "lora" ? { kind: "lora", lora: defaultLoraConfig, baseModel: "bench" } : { kind: "full", save: async () => {} },
    data,
    { ...defaultTrainOptions, totalSteps: steps + 1, microBatch: batch, gradAccumulation: 1, peakLr: 1e-3, warmupRatio: 0, outDir: out },
    (r) => {
      const now = performance.now()
      const cpu = cpuNow()
      if (r.step > 1) {
        seconds.push((now - last) / 1000)
        cpuSeconds.push(cpu - lastCpu)
      }
      last = now
      lastCpu = cpu
    }
  )
  rmSync(out, { recursive: true, force: true })
}
const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
console.log(JSON.stringify({ side: "fleuve", backend: choice.backend, device: choice.device, model: args.model, task: args.task, batch, seq, seconds, cpu_seconds: cpuSeconds, tokens_per_s: (batch * seq) / median(seconds), tokens_per_cpu_s: (batch * seq) / median(cpuSeconds) }))
process.exit(0)
