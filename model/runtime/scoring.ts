import * as tf from "@tensorflow/tfjs-core"
import { fusedCpuActive, webgpuEngineGpu, webgpuEngineUnavailable } from "../tfjs/backend.ts"
import { fusedPickTargets } from "../cpu/tfjs-bridge.ts"
import { type ScoringEngineName, scoringEngineNames } from "../tfjs/backend-names.ts"
import { EngineScorer } from "../wgsl/engine-scorer.ts"
import type { Gpu } from "../wgsl/kernels/device.ts"
import { disposeCache, type Qwen3Model } from "../tfjs/qwen3-model.ts"
import { prepareContinuations, type ScoredContext, scoredContext } from "./scoring-prep.ts"
import type { TextTokenizer } from "../formats/tokenizer/tokenizer.ts"

export { type ContinuationScore, type ScoredContext, ScoringError, splitContinuation } from "./scoring-prep.ts"
export { type ScoringEngineName, scoringEngineNames }

/** --engine wgsl (or FLEUVE_SCORING_ENGINE=wgsl) asked for the engine, and it cannot run. */
export class ScoringEngineUnavailable extends Error {}

let chosen: ScoringEngineName | undefined

/** Sets the scoring path for this process (the CLI's --engine); overrides FLEUVE_SCORING_ENGINE. */
export const setScoringEngine = (name: ScoringEngineName | undefined): void => {
  chosen = name
}

/** The scoring path asked for: --engine, else FLEUVE_SCORING_ENGINE, else auto. */
export const scoringEngineName = (): ScoringEngineName => {
  if (chosen) return chosen
  const env = process.env.FLEUVE_SCORING_ENGINE
  if (env === undefined || env === "") return "auto"
  if (!(scoringEngineNames as ReadonlyArray<string>).includes(env)) throw new ScoringEngineUnavailable(`FLEUVE_SCORING_ENGINE must be one of ${scoringEngineNames.join(", ")}, not '${env}'`)
  return env as ScoringEngineName
}

/** Which path scores a model, and why when it is tfjs. */
export type ScoringPath = { readonly _tag: "Engine"; readonly scorer: EngineScorer } | { readonly _tag: "Tfjs"; readonly reason: string }

/**
 * The identity of every tensor the engine copied: tfjs gives a variable a new dataId on each
 * assign, so a trained LoRA pair (or a swapped weight) makes the uploaded copy stale.
 */
const fingerprint = (model: Qwen3Model): Array<unknown> => [
  ...[...model.params.values()].map((t) => t.dataId),
  ...[...model.lora].flatMap(([path, l]) => [path, l.a.dataId, l.b.dataId, l.scale])
]

const sameFingerprint = (a: ReadonlyArray<unknown>, b: ReadonlyArray<unknown>) => a.length === b.length && a.every((x, i) => x === b[i])

/**
 * The one engine scorer kept: for the model scored last. A model's f16 copy is large, and scoring
 * moves from model to model (a system at a time), not back and forth; so scoring another model,
 * or this one after its weights changed, frees the previous scorer — a disposed or forgotten
 * model's GPU memory goes back at the next scoring call.
 */
let current: { readonly model: Qwen3Model; readonly gpu: Gpu; readonly fingerprint: ReadonlyArray<unknown>; readonly path: Promise<ScoringPath> } | undefined

const releaseCurrent = async (): Promise<void> => {
  const kept = current
  current = undefined
  const path = await kept?.path.catch(() => undefined)
  if (path?._tag === "Engine") path.scorer.dispose()
}

/** Frees the engine scorer of a model (its f16 weights and activations), if it holds one. */
export const releaseScoringEngine = async (model: Qwen3Model): Promise<void> => {
  if (current?.model === model) await releaseCurrent()
}

let listener: ((line: string) => void) | undefined
let lastLine: string | undefined

/**
 * Tells `print` which path scores, each time it changes (a command that loads several models,
 * like the demo, prints one line per change rather than one per model or per call).
 */
export const onScoringPath = (print: ((line: string) => void) | undefined): void => {
  listener = print
  lastLine = undefined
}

const told = (path: ScoringPath): ScoringPath => {
  const line = describePath(path)
  if (listener && line !== lastLine) {
    lastLine = line
    listener(line)
  }
  return path
}

const describePath = (path: ScoringPath): string => (path._tag === "Engine" ? `scoring: ${path.scorer.description}` : `scoring: tfjs runtime (${path.reason})`)

/**
 * Chooses the scoring path of a model: fleuve's WGSL engine where the tensor backend is webgpu
 * with tensor cores, the shape fits the engine and the choice is not "tfjs"; the tfjs runtime
 * otherwise, with the reason. "wgsl" makes the engine required: ScoringEngineUnavailable when it
 * cannot run. The engine scorer is made once per model (again if its weights changed), one model at a time.
 */
export const scoringPathFor = async (model: Qwen3Model): Promise<ScoringPath> => told(await choosePath(model))

const choosePath = async (model: Qwen3Model): Promise<ScoringPath> => {
  const name = scoringEngineName()
  const refuse = (reason: string): ScoringPath => {
    if (name === "wgsl") throw new ScoringEngineUnavailable(`the WGSL scoring engine was required (--engine wgsl / FLEUVE_SCORING_ENGINE=wgsl) but cannot run: ${reason}`)
    return { _tag: "Tfjs", reason }
  }
  if (name === "tfjs") return { _tag: "Tfjs", reason: "asked for (--engine tfjs / FLEUVE_SCORING_ENGINE=tfjs)" }
  const gpu = webgpuEngineGpu()
  if (!gpu) return refuse(webgpuEngineUnavailable() ?? "no WebGPU device with tensor cores")
  const print = fingerprint(model)
  if (current && current.model === model && current.gpu === gpu && sameFingerprint(current.fingerprint, print)) {
    const path = await current.path
    return path._tag === "Tfjs" ? refuse(path.reason) : path
  }
  await releaseCurrent()
  const path = EngineScorer.create(model, gpu).then((r): ScoringPath => (r._tag === "Ready" ? { _tag: "Engine", scorer: r.scorer } : { _tag: "Tfjs", reason: r.reason }))
  current = { model, gpu, fingerprint: print, path }
  const made = await path.catch((e) => {
    if (current?.path === path) current = undefined
    throw e
  })
  return made._tag === "Tfjs" ? refuse(made.reason) : made
}

/** The line to print (stderr) about which path scores a model. */
export const describeScoringPath = async (model: Qwen3Model): Promise<string> => describePath(await choosePath(model))

/**
 * Log-softmax values at `targets` (one per row) and argmax flags, computed on the device; only
 * small arrays come back. The targets are gathered from the flattened log-probs in chunks of
 * rows under 2^24 elements: past that, tfjs' WebGPU gather loses precision in its indices (110
 * rows of Qwen3's 151936 tokens; log-probs off by up to 2.7 with the logits themselves exact,
 * found with bench/engine/cached-batch.ts on the H200), and a batched gather (batchDims 1), which
 * avoids large indices, reads out of bounds on tfjs' wasm backend.
 */
export const pickTargets = async (logits: tf.Tensor2D, targets: ReadonlyArray<number>): Promise<{ logprobs: Float32Array; argmax: Int32Array }> => {
  if (fusedCpuActive()) return fusedPickTargets(logits, targets)
  const [lp, am] = tf.tidy(() => {
    const logp = tf.logSoftmax(logits)
    const [rows, v] = logits.shape
    const chunk = Math.max(1, Math.floor(2 ** 24 / v))
    const parts: Array<tf.Tensor1D> = []
    for (let r0 = 0; r0 < rows; r0 += chunk) {
      const n = Math.min(chunk, rows - r0)
      const flat = tf.tensor1d(targets.slice(r0, r0 + n).map((tok, row) => row * v + tok), "int32")
      parts.push(tf.gather(tf.reshape(tf.slice(logp, [r0, 0], [n, v]), [-1]), flat) as tf.Tensor1D)
    }
    return [parts.length === 1 ? parts[0]! : tf.concat(parts), tf.argMax(logits, 1)]
  })
  // Asynchronous reads: WebGPU cannot read synchronously in Node.
  const out = { logprobs: (await lp.data()) as Float32Array, argmax: (await am.data()) as Int32Array }
  tf.dispose([lp, am])
  return out
}

/**
 * Scores every continuation of one context, on fleuve's WGSL engine when it can run
 * (scoringPathFor), else on the tfjs runtime; both prepare the tokens the same way
 * (model/runtime/scoring-prep.ts). A context too long for the window loses tokens on the left, and the
 * count is returned, never hidden.
 */
export const scoreContinuations = async (
  model: Qwen3Model,
  tokenizer: TextTokenizer,
  context: string,
  continuations: ReadonlyArray<string>,
  options: { readonly contextWindow?: number } = {}
): Promise<ScoredContext> => {
  const engine = await scoringPathFor(model)
  if (engine._tag === "Engine") return engine.scorer.scoreContinuations(tokenizer, context, continuations, options)
  return scoreOnTfjs(model, tokenizer, context, continuations, options)
}

/**
 * The tfjs runtime's forward for one context and its options: the context runs once and fills a
 * KV cache; the options then run together as one right-padded batch on top of it (padding comes
 * after the real tokens, so causal attention never sees it). `lastRow` [1, vocab] predicts every
 * option's first token; `options` [n, width, vocab] (undefined when every option is one token),
 * row r column j, token j + 1 of option r. The caller disposes both.
 */
export const tfjsOptionBatch = (model: Qwen3Model, prompt: ReadonlyArray<number>, conts: ReadonlyArray<ReadonlyArray<number>>): { lastRow: tf.Tensor2D; options: tf.Tensor3D | undefined; width: number } => {
  const first = model.forward([[...prompt]], { keepCache: true })
  const lastRow = tf.tidy(() => tf.reshape(tf.slice(first.logits, [0, prompt.length - 1, 0], [1, 1, -1]), [1, -1]) as tf.Tensor2D)
  first.logits.dispose()
  const cache = first.cache!
  const n = conts.length
  const width = Math.max(...conts.map((c) => c.length)) - 1
  let options: tf.Tensor3D | undefined
  if (width > 0) {
    const tiled = {
      k: cache.k.map((k) => tf.tile(k, [n, 1, 1, 1]) as tf.Tensor4D),
      v: cache.v.map((v) => tf.tile(v, [n, 1, 1, 1]) as tf.Tensor4D),
      length: cache.length,
      valid: conts.map(() => cache.valid[0]!)
    }
    const pad = model.config.eosTokenId ?? 0
    const rows = conts.map((c) => Array.from({ length: width }, (_, j) => c[j] ?? pad))
    const valid = conts.map((c) => Array.from({ length: width }, (_, j) => (j < c.length - 1 ? 1 : 0)))
    options = model.forward(rows, { cache: tiled, valid }).logits as tf.Tensor3D
    disposeCache(tiled)
  }
  disposeCache(cache)
  return { lastRow, options, width }
}

/** The tfjs runtime path: tfjsOptionBatch, then the log-probs and argmax flags picked on the device. */
const scoreOnTfjs = async (
  model: Qwen3Model,
  tokenizer: TextTokenizer,
  context: string,
  continuations: ReadonlyArray<string>,
  options: { readonly contextWindow?: number }
): Promise<ScoredContext> => {
  const prepared = prepareContinuations(tokenizer, context, continuations, { window: options.contextWindow ?? model.config.maxPositions, eosTokenId: model.config.eosTokenId })
  const conts = prepared.continuations
  const n = conts.length
  const { lastRow, options: logits, width } = tfjsOptionBatch(model, prepared.prompt, conts)
  const firstTokens = conts.map((c) => c[0]!)
  const head = await pickTargets(tf.tidy(() => tf.tile(lastRow, [n, 1]) as tf.Tensor2D), firstTokens)
  lastRow.dispose()
  const results: Array<{ lp: Array<number>; greedy: boolean }> = conts.map((_, i) => ({ lp: [head.logprobs[i]!], greedy: head.argmax[i] === firstTokens[i] }))
  if (logits) {
    // Row r, column j predicts token j + 1 of option r; padded columns target token 0 and are ignored.
    const targets = conts.flatMap((c) => Array.from({ length: width }, (_, j) => c[j + 1] ?? 0))
    const flat = tf.reshape(logits, [n * width, -1]) as tf.Tensor2D
    const picked = await pickTargets(flat, targets)
    tf.dispose([logits, flat])
    conts.forEach((c, r) => {
      for (let j = 0; j < c.length - 1; j++) {
        results[r]!.lp.push(picked.logprobs[r * width + j]!)
        if (picked.argmax[r * width + j] !== c[j + 1]) results[r]!.greedy = false
      }
    })
  }
  return scoredContext(prepared, results.map((r) => ({ logprobs: r.lp, greedy: r.greedy })))
}
