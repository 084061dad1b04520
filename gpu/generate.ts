import * as tf from "@tensorflow/tfjs-core"
import type { TextTokenizer } from "./tokenizer/tokenizer.ts"
import { disposeCache, type KvCache, type Qwen3Model } from "./qwen3/model.ts"

export interface GenerateOptions {
  readonly maxNewTokens: number
  /** Generation of a row ends at the first of these strings, which is cut from the text. */
  readonly stop?: ReadonlyArray<string>
  /** End a row at the end-of-text token (default true). */
  readonly stopAtEos?: boolean
  readonly contextWindow?: number
}

export interface Generation {
  readonly text: string
  readonly tokenIds: ReadonlyArray<number>
  readonly finishReason: "stop" | "eos" | "length"
  readonly truncatedTokens: number
}

const argmaxLast = async (logits: tf.Tensor3D): Promise<Int32Array> => {
  const am = tf.tidy(() => {
    const [b, t, v] = logits.shape
    return tf.argMax(tf.reshape(tf.slice(logits, [0, t - 1, 0], [b, 1, v]), [b, v]), 1)
  })
  const out = (await am.data()) as Int32Array
  am.dispose()
  return out
}

/**
 * Greedy decoding for a batch of prompts with a KV cache. Prompts are padded on the left so
 * every row's next token sits in the last column; padded keys are masked and positions count
 * real tokens only, so each row computes exactly what it would alone.
 */
export const generateGreedy = async (model: Qwen3Model, tokenizer: TextTokenizer, prompts: ReadonlyArray<string>, options: GenerateOptions): Promise<Array<Generation>> => {
  const window = options.contextWindow ?? model.config.maxPositions
  const budget = Math.max(1, window - options.maxNewTokens)
  const encoded = prompts.map((p) => tokenizer.encode(p))
  const truncated = encoded.map((ids) => Math.max(0, ids.length - budget))
  const rows = encoded.map((ids, i) => ids.slice(truncated[i]!))
  const eos = tokenizer.eosId ?? model.config.eosTokenId
  const pad = eos ?? 0
  const width = Math.max(...rows.map((r) => r.length))
  const ids = rows.map((r) => [...Array<number>(width - r.length).fill(pad), ...r])
  const valid = rows.map((r) => [...Array<number>(width - r.length).fill(0), ...r.map(() => 1)])
  const positions = rows.map((r) => [...Array<number>(width - r.length).fill(0), ...r.map((_, i) => i)])
  const stops = options.stop ?? []
  const out = rows.map(() => ({ ids: [] as Array<number>, done: false, reason: "length" as Generation["finishReason"], text: "" }))

  let { logits, cache } = model.forward(ids, { valid, positions, keepCache: true }) as { logits: tf.Tensor3D; cache: KvCache }
  for (let step = 0; step < options.maxNewTokens; step++) {
    const next = await argmaxLast(logits)
    logits.dispose()
    out.forEach((o, r) => {
      if (o.done) return
      const tok = next[r]!
      if (options.stopAtEos !== false && eos !== undefined && tok === eos) {
        o.done = true
        o.reason = "eos"
        return
      }
      o.ids.push(tok)
      const text = tokenizer.decode(o.ids)
      const hit = stops.map((s) => text.indexOf(s)).filter((i) => i >= 0)
      if (hit.length > 0) {
        o.done = true
        o.reason = "stop"
        o.text = text.slice(0, Math.min(...hit))
      } else o.text = text
    })
    if (out.every((o) => o.done) || step === options.maxNewTokens - 1) break
    const stepIds = out.map((o, r) => [next[r]!])
    const stepPositions = rows.map((r, i) => [r.length + out[i]!.ids.length - 1 + (out[i]!.done ? 1 : 0)])
    const result = model.forward(stepIds, { cache, positions: stepPositions, keepCache: true })
    disposeCache(cache)
    logits = result.logits
    cache = result.cache!
  }
  disposeCache(cache)
  return out.map((o, i) => ({ text: o.text, tokenIds: o.ids, finishReason: o.reason, truncatedTokens: truncated[i]! }))
}
