import { Effect } from "effect"
import { createHash } from "node:crypto"
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from "node:fs"
import { basename, join, resolve } from "node:path"
import { generateGreedy } from "../../model/index.ts"
import { ModelHandle, type RecoveryOptions } from "../../model/index.ts"
import { scoreContinuations, ScoringError } from "../../model/index.ts"
import { OperatorFailure, RecordRejected } from "../operator.ts"
import type { QaModel } from "./model.ts"

/**
 * Revision of a model folder: sha256 over config.json, tokenizer.json and every weight file's
 * full content. Fine-tuning changes values, not shapes, so nothing less than the content will
 * do: two checkpoints with equal revisions are the same model, and the prediction cache relies
 * on it.
 */
export const modelRevisionOf = (dir: string): string => {
  const files = readdirSync(dir).filter((f) => f === "config.json" || f === "tokenizer.json" || f.endsWith(".safetensors")).sort()
  // Remembered for this process while the files' sizes and mtimes stay: a study's grid names the
  // same multi-GB folder for each of its adapter systems (it was ~30 s of hashing a grid on the H100).
  const stamp = `${resolve(dir)}\0${files.map((f) => {
    const s = statSync(join(dir, f))
    return `${f}:${s.size}:${s.mtimeMs}`
  }).join("\0")}`
  const known = revisions.get(stamp)
  if (known) return known
  const h = createHash("sha256")
  const buf = Buffer.alloc(16 << 20)
  for (const f of files) {
    h.update(`\0${f}\0`)
    const fd = openSync(join(dir, f), "r")
    try {
      for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) h.update(buf.subarray(0, n))
    } finally {
      closeSync(fd)
    }
  }
  const revision = h.digest("hex")
  revisions.set(stamp, revision)
  return revision
}
const revisions = new Map<string, string>()

/** Identity of a PEFT adapter folder: sha256 of its adapter_model.safetensors (the prediction cache's adapter_hash). */
export const adapterHashOf = (dir: string): string => createHash("sha256").update(readFileSync(join(dir, "adapter_model.safetensors"))).digest("hex")

const failure = (e: unknown) => new OperatorFailure({ operator: "qwen3", message: e instanceof Error ? e.message : String(e) })
// A request the model cannot score (ScoringError: non-finite log-probs, an empty continuation) is
// rejected alone, as a dead letter; any other failure (a lost device) stops the run.
const scoringFailure = (e: unknown) => (e instanceof ScoringError ? new RecordRejected({ reason: e.message, field: "continuations" }) : failure(e))

/**
 * A Qwen3 checkpoint as a QaModel: option scoring through model/runtime/scoring.ts (fleuve's WGSL engine
 * where it can run, else the tfjs runtime with a KV cache) and greedy generation on tfjs. Each
 * item runs through the handle: a lost GPU device is reopened and the item scored again.
 */
export const qwen3QaModel = (
  handle: ModelHandle,
  identity: { readonly modelId?: string; readonly modelRevision?: string; readonly adapterHash?: string } = {},
  /** Tokens the model may see (default: the config's max_position_embeddings); longer prompts lose tokens on the left, counted in truncatedTokens. */
  window: { readonly contextWindow?: number } = {}
): QaModel => ({
  modelId: identity.modelId ?? basename(handle.source.dir),
  modelRevision: identity.modelRevision ?? modelRevisionOf(handle.source.dir),
  // A handle loaded with an adapter is that adapter's system: its hash keys the cache, whoever built the handle.
  adapterHash: identity.adapterHash ?? (handle.source.adapter !== undefined ? adapterHashOf(handle.source.adapter) : "none"),
  loglikelihood: (context, continuations) =>
    Effect.tryPromise({
      try: async () => {
        const scored = await handle.run("scoring an item", (loaded) => scoreContinuations(loaded.model, loaded.tokenizer, context, continuations, window))
        return { options: scored.options.map((o) => ({ logprob: o.logprob, tokens: o.tokenIds.length, greedy: o.greedy })), truncatedTokens: scored.truncatedTokens }
      },
      catch: scoringFailure
    }),
  generate: (prompts, decoding) =>
    Effect.tryPromise({
      try: async () => {
        // one batch: generateGreedy splits it to fit memory, shortest prompts first (like lengths decode together)
        const out = await handle.run("generating answers", (loaded) => generateGreedy(loaded.model, loaded.tokenizer, prompts, { maxNewTokens: decoding.maxNewTokens, stop: decoding.stop, sortByLength: true, ...window }))
        return out.map((g) => ({ text: g.text, truncatedTokens: g.truncatedTokens, ...(g.error !== undefined ? { error: g.error } : {}) }))
      },
      catch: failure
    })
})

export const loadQwen3QaModel = (dir: string, identity: Parameters<typeof qwen3QaModel>[1] = {}, recovery: RecoveryOptions = {}) =>
  qwen3QaModel(ModelHandle.load({ dir }, recovery), identity)
