// Parity and throughput of the Qwen3 runtime on one backend (webgpu on a GPU host), in one process:
//   node gpu-parity.mjs --fixture DIR --bf16 DIR [--backend webgpu] [--engine auto|wgsl|tfjs] [--torch torch.json] [--out result.json]
// Compares the tiny fixture's log-probs and greedy tokens with transformers' (reference.json, and
// torch on this machine's GPU when --torch is given), then times the forward pass of a random
// mid-size Qwen3 (the peer, bench/model/torch_peer.py, times the same shapes in PyTorch).
import * as tf from "@tensorflow/tfjs-core"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { type BackendName, selectBackend } from "../../model/tfjs/backend.ts"
import { generateGreedy } from "../../model/runtime/generate.ts"
import { loadModelDir } from "../../model/qwen3/checkpoint.ts"
import { parseQwen3Config } from "../../model/qwen3/config.ts"
import { expectedShapes, Qwen3Model } from "../../model/tfjs/qwen3-model.ts"
import { describeScoringPath, scoreContinuations, type ScoringEngineName, scoringEngineNames, setScoringEngine } from "../../model/runtime/scoring.ts"

const { values: args } = parseArgs({
  options: {
    fixture: { type: "string", default: "test/fixtures/qwen3-tiny" },
    bf16: { type: "string", default: "test/fixtures/qwen3-tiny-bf16-sharded" },
    backend: { type: "string", default: "auto" },
    // the scoring path for the parity rows (the tiny fixture does not fit the WGSL engine: tfjs)
    engine: { type: "string", default: "auto" },
    torch: { type: "string" },
    out: { type: "string" },
    "bench-layers": { type: "string", default: "8" }
  }
})

interface Row { context: string; continuation: string; continuation_ids: Array<number>; token_logprobs: Array<number> }
const ref = JSON.parse(readFileSync(join(args.fixture!, "reference.json"), "utf8"))
const choice = await selectBackend(args.backend as BackendName)
console.log(`backend ${choice.backend} on ${choice.device}`)

if (!(scoringEngineNames as ReadonlyArray<string>).includes(args.engine!)) throw new Error(`--engine must be one of ${scoringEngineNames.join(", ")}`)
setScoringEngine(args.engine as ScoringEngineName)
const maxError = async (dir: string, rows: Array<Row>): Promise<{ maxAbs: number; idsEqual: boolean }> => {
  const { model, tokenizer } = loadModelDir(dir)
  console.log(`${dir}: ${await describeScoringPath(model)}`)
  let maxAbs = 0
  let idsEqual = true
  const groups = new Map<string, Array<Row>>()
  for (const r of rows) groups.set(r.context, [...(groups.get(r.context) ?? []), r])
  for (const [context, group] of groups) {
    const s = await scoreContinuations(model, tokenizer, context, group.map((r) => r.continuation))
    group.forEach((r, i) => {
      idsEqual &&= JSON.stringify(s.options[i]!.tokenIds) === JSON.stringify(r.continuation_ids)
      s.options[i]!.tokenLogprobs.forEach((lp, j) => (maxAbs = Math.max(maxAbs, Math.abs(lp - r.token_logprobs[j]!))))
    })
  }
  model.dispose()
  return { maxAbs, idsEqual }
}

const f32 = await maxError(args.fixture!, ref.scoring)
const bf16 = await maxError(args.bf16!, ref.scoring_bf16_sharded)
const torchGpu = args.torch ? await maxError(args.fixture!, JSON.parse(readFileSync(args.torch, "utf8")).scoring) : undefined
const { model, tokenizer } = loadModelDir(args.fixture!)
const gens = await generateGreedy(model, tokenizer, ref.generations.map((g: { prompt: string }) => g.prompt), { maxNewTokens: 12, stopAtEos: false })
const generationEqual = gens.every((g, i) => JSON.stringify(g.tokenIds) === JSON.stringify(ref.generations[i].new_ids))
model.dispose()
console.log(`parity f32 max|Δlogprob| ${f32.maxAbs.toExponential(2)} (ids equal ${f32.idsEqual}), bf16 shards ${bf16.maxAbs.toExponential(2)}, ` +
  `${torchGpu ? `vs torch on this GPU ${torchGpu.maxAbs.toExponential(2)}, ` : ""}greedy generation equal ${generationEqual}`)

// Throughput: a random Qwen3 with Qwen3-0.6B's block shapes and fewer layers, fp32.
const benchConfig = parseQwen3Config({
  model_type: "qwen3", vocab_size: 32768, hidden_size: 1024, intermediate_size: 3072, num_hidden_layers: Number(args["bench-layers"]),
  num_attention_heads: 16, num_key_value_heads: 8, head_dim: 128, rms_norm_eps: 1e-6, rope_theta: 1000000, max_position_embeddings: 4096, tie_word_embeddings: true
})
const params = new Map<string, tf.Tensor>()
for (const [name, shape] of expectedShapes(benchConfig)) params.set(name, name.includes("norm") ? tf.ones(shape) : tf.randomNormal(shape, 0, 0.02, "float32", 7))
const big = new Qwen3Model(benchConfig, params)
const batch = 8
const length = 256
const ids = Array.from({ length: batch }, (_, r) => Array.from({ length }, (_, i) => (r * 977 + i * 131) % benchConfig.vocabSize))
const timeForward = async (): Promise<number> => {
  const t0 = performance.now()
  const { logits } = big.forward(ids)
  await tf.sum(logits).data() // wait for the device
  logits.dispose()
  return performance.now() - t0
}
await timeForward() // compile shaders
const times: Array<number> = []
for (let i = 0; i < 3; i++) times.push(await timeForward())
const best = Math.min(...times)
const tokensPerSecond = (batch * length) / (best / 1000)
console.log(`forward ${batch}x${length} tokens, ${benchConfig.numLayers} layers: best ${best.toFixed(1)} ms, ${tokensPerSecond.toFixed(0)} tokens/s`)
const result = { backend: choice.backend, device: choice.device, f32, bf16, torchGpu, generationEqual, bench: { batch, length, layers: benchConfig.numLayers, bestMs: best, tokensPerSecond, times } }
if (args.out) writeFileSync(args.out, JSON.stringify(result, null, 2))
