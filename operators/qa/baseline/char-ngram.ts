import { Effect } from "effect"
import { createHash } from "node:crypto"
import type { ContinuationLogprob, QaModel } from "../model.ts"

/**
 * A character n-gram language model with add-k smoothing: a real, tiny model that runs anywhere
 * in milliseconds. It is the grid's no-GPU baseline system and lets the evaluation machinery
 * (cache, metrics, re-evaluation) run end to end before or without a neural model. One token is
 * one character (code point).
 */
export interface CharNgramOptions {
  readonly order?: number
  readonly k?: number
  readonly name?: string
}

export const trainCharNgram = (texts: ReadonlyArray<string>, options: CharNgramOptions = {}): QaModel => {
  const order = options.order ?? 3
  const k = options.k ?? 0.1
  const counts = new Map<string, Map<string, number>>()
  const totals = new Map<string, number>()
  const vocab = new Set<string>()
  for (const text of texts) {
    const chars = [...text]
    for (let i = 0; i < chars.length; i++) {
      vocab.add(chars[i]!)
      const history = chars.slice(Math.max(0, i - order + 1), i).join("")
      let m = counts.get(history)
      if (!m) counts.set(history, (m = new Map()))
      m.set(chars[i]!, (m.get(chars[i]!) ?? 0) + 1)
      totals.set(history, (totals.get(history) ?? 0) + 1)
    }
  }
  const v = vocab.size + 1 // + one unknown character
  const logp = (history: string, ch: string): number => {
    // Back off to shorter histories until one was seen.
    for (let h = history; ; h = [...h].slice(1).join("")) {
      const total = totals.get(h)
      if (total !== undefined || h === "") return Math.log(((counts.get(h)?.get(ch) ?? 0) + k) / ((total ?? 0) + k * v))
    }
  }
  const historyOf = (chars: ReadonlyArray<string>) => chars.slice(Math.max(0, chars.length - order + 1)).join("")
  const sorted = [...vocab].sort()
  const revision = createHash("sha256").update(`${order}\0${k}\0${texts.join("\u0000")}`).digest("hex").slice(0, 16)

  const score = (context: string, continuation: string): ContinuationLogprob => {
    const chars = [...context]
    let logprob = 0
    let greedy = true
    for (const ch of continuation) {
      const h = historyOf(chars)
      logprob += logp(h, ch)
      if (greedy) {
        const best = counts.get(h)
        if (best) {
          let top = ""
          let n = -1
          for (const [c, x] of best) if (x > n || (x === n && c < top)) (top = c), (n = x)
          if (top !== ch) greedy = false
        }
      }
      chars.push(ch)
    }
    return { logprob, tokens: [...continuation].length, greedy }
  }

  const nextChar = (chars: ReadonlyArray<string>): string => {
    for (let h = historyOf(chars); ; h = [...h].slice(1).join("")) {
      const m = counts.get(h)
      if (m && m.size > 0) {
        let top = ""
        let n = -1
        for (const [c, x] of m) if (x > n || (x === n && c < top)) (top = c), (n = x)
        return top
      }
      if (h === "") return sorted[0] ?? " "
    }
  }

  return {
    modelId: options.name ?? `fleuve/char-${order}gram`,
    modelRevision: revision,
    adapterHash: "none",
    loglikelihood: (context, continuations) => Effect.sync(() => ({ options: continuations.map((c) => score(context, c)), truncatedTokens: 0 })),
    generate: (prompts, decoding) =>
      Effect.sync(() => prompts.map((prompt) => {
        const chars = [...prompt]
        let out = ""
        for (let i = 0; i < decoding.maxNewTokens; i++) {
          out += nextChar(chars)
          chars.push(out[out.length - 1]!)
          const stop = decoding.stop.find((s) => out.includes(s))
          if (stop !== undefined) {
            out = out.slice(0, out.indexOf(stop))
            break
          }
        }
        return { text: out, truncatedTokens: 0 }
      }))
  }
}
