/**
 * Where the tfjs runtime's KV-cached option batch (model/runtime/scoring.ts tfjsOptionBatch) departs from
 * the same model scoring each option's whole row in one forward, on one device and the same
 * weights (bench/engine/scoring-fixture.ts). For each item and each setting — fleuve's
 * tensor-core BatchMatMul on or off, tfjs' work submitted in batches or after every dispatch —
 * it prints the largest logit gap of the prompt's last row and of the option batch against the
 * whole rows (computed with the tensor cores off), the tensor-core dispatches of that pass, the
 * log-prob gap at the target, whether the device's pick (log-softmax + gather) agrees with the
 * host's on the same logits, and, for a row that is off, the whole-row position it matches best.
 *
 *   node --import tsx bench/engine/cached-batch.ts [--layers 28] [--items 12,20,52,4] [--options 4] [--context 256]
 *   node --import tsx bench/engine/cached-batch.ts --tiny --backend cpu --items 0,1     (a smoke run)
 */
import * as tf from "@tensorflow/tfjs-core"
import { parseArgs } from "node:util"
import { type BackendName, describeBackend, selectBackend } from "../../model/tfjs/backend.ts"
import { pickTargets, tfjsOptionBatch } from "../../model/runtime/scoring.ts"
import { prepareContinuations } from "../../model/runtime/scoring-prep.ts"
import { kernelUse, useTensorCoreMatmul } from "../../model/tfjs/webgpu-kernels.ts"
import { benchConfig, benchItem, benchTokenizer, randomF16Model } from "./scoring-fixture.ts"

const { values: args } = parseArgs({
  options: {
    layers: { type: "string", default: "28" }, items: { type: "string", default: "12,20,52,4" }, options: { type: "string", default: "4" },
    context: { type: "string", default: "256" }, backend: { type: "string", default: "webgpu" }, tiny: { type: "boolean", default: false }
  }
})
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify(o))
emit({ kind: "device", backend: describeBackend(await selectBackend(args.backend as BackendName)) })
const config = benchConfig(Number(args.layers), args.tiny)
const model = await randomF16Model(config)
const tokenizer = benchTokenizer()
const V = config.vocabSize

const rowsOf = async (t: tf.Tensor): Promise<Float32Array> => (await t.data()) as Float32Array
const maxGap = (a: Float32Array, ao: number, b: Float32Array, bo: number): number => {
  let m = 0
  for (let i = 0; i < V; i++) m = Math.max(m, Math.abs(a[ao + i]! - b[bo + i]!))
  return m
}
const logSoftmaxAt = (a: Float32Array, o: number, target: number): number => {
  let max = -Infinity
  for (let i = 0; i < V; i++) max = Math.max(max, a[o + i]!)
  let sum = 0
  for (let i = 0; i < V; i++) sum += Math.exp(a[o + i]! - max)
  return a[o + target]! - max - Math.log(sum)
}

for (const i of args.items.split(",").map(Number)) {
  const item = benchItem(tokenizer, i, Number(args.options), Number(args.context))
  const prepared = prepareContinuations(tokenizer, item.context, item.options, { window: config.maxPositions, eosTokenId: config.eosTokenId })
  const { prompt, continuations: conts } = prepared
  // the reference: each option's whole row in one forward, f32 stock kernels only
  useTensorCoreMatmul(false)
  const whole: Array<Float32Array> = []
  for (const c of conts) {
    const { logits } = model.forward([[...prompt, ...c]])
    whole.push(await rowsOf(logits))
    logits.dispose()
  }
  const at = (r: number, position: number) => position * V // offset of a position in whole[r]
  for (const setting of [{ tensorCores: true, submitEach: false }, { tensorCores: false, submitEach: false }, { tensorCores: true, submitEach: true }, { tensorCores: false, submitEach: true }]) {
    useTensorCoreMatmul(setting.tensorCores)
    if (tf.getBackend() === "webgpu") tf.env().set("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE", setting.submitEach ? 1 : 15)
    const before = kernelUse.tensorCore
    const { lastRow, options, width } = tfjsOptionBatch(model, prompt, conts)
    const head = await rowsOf(lastRow)
    const batch = options ? await rowsOf(options) : new Float32Array(0)
    const tensorCoreDispatches = kernelUse.tensorCore - before
    // the device's pick on these logits, as scoring does it
    const targets = conts.flatMap((c) => Array.from({ length: width }, (_, j) => c[j + 1] ?? 0))
    const flat = options ? (tf.reshape(options, [conts.length * width, -1]) as tf.Tensor2D) : undefined
    const picked = flat ? await pickTargets(flat, targets) : undefined
    tf.dispose([lastRow, ...(options && flat ? [options, flat] : [])])
    const headGap = Math.max(...conts.map((_, r) => maxGap(head, 0, whole[r]!, at(r, prompt.length - 1))))
    let worst = { gap: 0, row: -1, column: -1, logprobGap: 0, pickGap: 0 }
    conts.forEach((c, r) => {
      for (let j = 0; j < c.length - 1; j++) {
        const o = (r * width + j) * V
        const gap = maxGap(batch, o, whole[r]!, at(r, prompt.length + j))
        const lpBatch = logSoftmaxAt(batch, o, c[j + 1]!)
        const lpWhole = logSoftmaxAt(whole[r]!, at(r, prompt.length + j), c[j + 1]!)
        const pickGap = Math.abs(picked!.logprobs[r * width + j]! - lpBatch)
        if (gap > worst.gap || pickGap > worst.pickGap) worst = { gap: Math.max(gap, worst.gap), row: r, column: j, logprobGap: Math.abs(lpBatch - lpWhole), pickGap: Math.max(pickGap, worst.pickGap) }
      }
    })
    // a row that is off: which whole-row position does it resemble most?
    let match: Record<string, number> | undefined
    if (worst.gap > 0.05) {
      const o = (worst.row * width + worst.column) * V
      let best = { gap: Infinity, row: -1, position: -1 }
      conts.forEach((c, r) => {
        for (let p = 0; p < prompt.length + c.length; p++) {
          const g = maxGap(batch, o, whole[r]!, at(r, p))
          if (g < best.gap) best = { gap: g, row: r, position: p - prompt.length }
        }
      })
      match = best
    }
    emit({ kind: "cached-batch", item: i, promptTokens: prompt.length, optionTokens: conts.map((c) => c.length), width, ...setting, tensorCoreDispatches, headMaxLogitGap: headGap, batchMaxLogitGap: worst.gap, worst, ...(match ? { bestMatch: match } : {}) })
  }
  useTensorCoreMatmul(true)
}
model.dispose()
