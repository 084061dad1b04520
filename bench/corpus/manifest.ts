import { createReadStream } from "node:fs"
import { createInterface } from "node:readline"
import type { ManifestEntry } from "./generate.ts"

/** The generator's manifest, by document id. */
export const readManifest = async (path: string): Promise<Map<string, ManifestEntry>> => {
  const out = new Map<string, ManifestEntry>()
  for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    if (line.trim() === "") continue
    const e = JSON.parse(line) as ManifestEntry
    out.set(e.id, e)
  }
  return out
}

export interface PrecisionRecall {
  readonly truePositives: number
  readonly predicted: number
  readonly planted: number
  readonly precision: number
  readonly recall: number
  readonly f1: number
}

/**
 * Near-duplicate detection scored against what was planted: `removed` are the documents a
 * deduplicator dropped as near duplicates; the truth is every planted near-duplicate whose
 * original reached the deduplicator (`reached`), since a copy of a filtered-out document cannot
 * be found. Document level: a removal is right when the document was planted as a near copy.
 */
export const scoreNearDuplicates = (manifest: ReadonlyMap<string, ManifestEntry>, removed: Iterable<string>, reached: (id: string) => boolean): PrecisionRecall => {
  const planted = new Set([...manifest.values()].filter((e) => e.kind === "near-duplicate" && reached(e.id) && reached(e.duplicateOf!)).map((e) => e.id))
  let tp = 0
  let predicted = 0
  for (const id of removed) {
    predicted++
    if (planted.has(id)) tp++
  }
  const precision = predicted === 0 ? 1 : tp / predicted
  const recall = planted.size === 0 ? 1 : tp / planted.size
  return { truePositives: tp, predicted, planted: planted.size, precision, recall, f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall) }
}
