import { createHash } from "node:crypto"
import type { QAItem } from "../../../schemas/qa-item.ts"

/** JSON with object keys sorted at every level, so equal content always hashes equally. */
export const canonicalJson = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`
  }
  return JSON.stringify(value)
}

export const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex")

/**
 * Content hash of an item: sha256 of the canonical JSON of everything that can change a prompt
 * or a score (task, id, question, context, options, gold answers). `meta` is left out on
 * purpose: re-labelling a medical subject must not trigger re-scoring.
 * Version prefix "qa1:" so a future change of the rule can never collide with old hashes.
 */
export const contentHashOf = (item: QAItem): string => {
  const { meta: _meta, ...scored } = item
  return sha256(`qa1:${canonicalJson(scored)}`)
}
