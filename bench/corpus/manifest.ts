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
 * Deduplication scored against the planted clusters (an original and its copies of the given
 * kinds). Only members that reached the deduplicator count (`reached`): a copy of a filtered-out
 * document cannot be found. A cluster of k reached members should lose exactly k − 1, whichever
 * member is kept (datatrove may keep a copy and drop the original): true positives are, per
 * cluster, min(members removed, k − 1); every other removal is a false positive.
 */
export const scoreNearDuplicates = (
  manifest: ReadonlyMap<string, ManifestEntry>,
  removed: Iterable<string>,
  reached: (id: string) => boolean,
  kinds: ReadonlyArray<string> = ["near-duplicate"]
): PrecisionRecall => {
  const clusterOf = new Map<string, string>()
  for (const e of manifest.values()) {
    if (!kinds.includes(e.kind) || !reached(e.id) || !reached(e.duplicateOf!)) continue
    clusterOf.set(e.id, e.duplicateOf!)
    clusterOf.set(e.duplicateOf!, e.duplicateOf!)
  }
  const size = new Map<string, number>()
  for (const c of clusterOf.values()) size.set(c, (size.get(c) ?? 0) + 1)
  const removedPer = new Map<string, number>()
  let predicted = 0
  for (const id of removed) {
    predicted++
    const c = clusterOf.get(id)
    if (c !== undefined) removedPer.set(c, (removedPer.get(c) ?? 0) + 1)
  }
  let tp = 0
  let planted = 0
  for (const [c, k] of size) {
    planted += k - 1
    tp += Math.min(removedPer.get(c) ?? 0, k - 1)
  }
  const precision = predicted === 0 ? 1 : tp / predicted
  const recall = planted === 0 ? 1 : tp / planted
  return { truePositives: tp, predicted, planted, precision, recall, f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall) }
}
