import { createHash } from "node:crypto"
import type { EvalRequest } from "../../schemas/evaluation.ts"

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex")

/** Hash of how answers were produced: the request kind, and decoding settings for generation. */
export const decodingHashOf = (r: EvalRequest): string =>
  sha256(JSON.stringify(r.kind === "generate" ? { kind: r.kind, maxNewTokens: r.decoding.maxNewTokens, stop: r.decoding.stop } : { kind: r.kind }))

/**
 * The prediction cache key: every field that changes an answer (GUIDE: model id and revision,
 * adapter hash, prompt hash, decoding, dataset version; the options scored, for log-likelihood).
 */
export const cacheKeyOf = (r: EvalRequest): string =>
  sha256(JSON.stringify([r.system, r.modelId, r.modelRevision, r.adapterHash, r.task, r.shots, r.itemId, r.datasetVersion, r.promptHash, decodingHashOf(r), r.continuations ?? []]))
