/**
 * A system's loss on held-out text, measured and landed in the warehouse (table heldout_loss):
 * the demo measures the base and DAPT models (and the adapters) on corpus documents DAPT never
 * saw, and a study runner calls the same function. Orchestration only: the measure is model/'s
 * heldoutLossOf, the row is warehouse/'s.
 */
import { Effect } from "effect"
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { basename } from "node:path"
import { heldoutLossOf } from "../model/index.ts"
import { adapterHashOf, modelRevisionOf } from "../operators/qa/qwen3-model.ts"
import type { HeldoutLossRow } from "../schemas/heldout-loss.ts"
import { HeldoutLosses } from "../warehouse/heldout-loss.ts"

export interface HeldoutLossRequest {
  /** The system's name, as in scores. */
  readonly system: string
  /** Its checkpoint folder (Hugging Face layout). */
  readonly modelDir: string
  /** A PEFT adapter folder loaded on it, if the system has one. */
  readonly adapter?: string | undefined
  readonly texts: ReadonlyArray<string>
  /** Tokens per packed sequence: use the DAPT sequence length to compare with its training loss. */
  readonly seqLen: number
  /** Where the texts came from (stored with the row). */
  readonly textsSource?: string | undefined
  /** Model id stored with the row (default: the folder's name). */
  readonly modelId?: string | undefined
  readonly runId?: string | undefined
}

export class HeldoutLossError extends Error {
  readonly _tag = "HeldoutLossError"
}

/** sha256 of the texts, in order, NUL-separated: the key of a measurement with the system and sequence length. */
export const textsHashOf = (texts: ReadonlyArray<string>): string => {
  const h = createHash("sha256")
  texts.forEach((t, i) => h.update(i === 0 ? t : `\0${t}`))
  return h.digest("hex")
}


/**
 * Loads the system's model (with its adapter), measures its mean token NLL over `texts` packed
 * into sequences of `seqLen` tokens (model/runtime/heldout-loss.ts), lands the row in
 * heldout_loss and returns it. Fails with a HeldoutLossError naming the system and the cause.
 */
export const measureHeldoutLoss = (r: HeldoutLossRequest) =>
  Effect.gen(function*() {
    const fail = (e: unknown) => new HeldoutLossError(`held-out loss of ${r.system} (${r.modelDir}${r.adapter ? ` + ${r.adapter}` : ""}): ${e instanceof Error ? e.message : String(e)}`)
    const identity = yield* Effect.try({
      try: () => ({ modelRevision: modelRevisionOf(r.modelDir), adapterHash: r.adapter ? adapterHashOf(r.adapter) : "none" }),
      catch: fail
    })
    const measured = yield* Effect.tryPromise({ try: () => heldoutLossOf({ dir: r.modelDir, adapter: r.adapter }, r.texts, r.seqLen), catch: fail })
    const row: HeldoutLossRow = {
      system: r.system,
      modelId: r.modelId ?? basename(r.modelDir),
      ...identity,
      textsHash: textsHashOf(r.texts),
      ...(r.textsSource !== undefined ? { textsSource: r.textsSource } : {}),
      seqLen: r.seqLen,
      texts: r.texts.length,
      sequences: measured.sequences,
      tokens: measured.tokens,
      meanNll: measured.meanNll,
      perplexity: measured.perplexity,
      ...(r.runId !== undefined ? { runId: r.runId } : {})
    }
    yield* HeldoutLosses.record(row)
    return row
  })

/**
 * The `text` of every line of a JSONL file (the demo's held-out corpus): a line that is not JSON,
 * or has no string `text`, is an error naming the file and line.
 */
export const readJsonlTexts = (path: string): Effect.Effect<Array<string>, HeldoutLossError> =>
  Effect.try({
    try: () => {
      const texts: Array<string> = []
      readFileSync(path, "utf8").split("\n").forEach((line, i) => {
        if (line.trim() === "") return
        let value: unknown
        try {
          value = JSON.parse(line)
        } catch (e) {
          throw new Error(`${path}:${i + 1}: not JSON (${e instanceof Error ? e.message : String(e)})`)
        }
        const text = typeof value === "object" && value !== null ? (value as { text?: unknown }).text : undefined
        if (typeof text !== "string") throw new Error(`${path}:${i + 1}: field 'text' must be a string`)
        texts.push(text)
      })
      return texts
    },
    catch: (e) => new HeldoutLossError(e instanceof Error ? e.message : String(e))
  })
