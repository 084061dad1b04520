import type { RecordName } from "../../../schemas/registry.ts"

// What the compiled validator's and the compiled reader's property tests start from: valid records
// of the types both compile, as a producer would write them, and their near misses.
export const validRecords: Partial<Record<RecordName, Record<string, unknown>>> = {
  Score: { system: "EnMed-Unified", task: "mcqa", shots: 3, itemId: "item-1", datasetVersion: "v1", metric: "acc", score: 0.5, judge: "j" },
  PackedSequence: { seq: 0, ids: [1, 2, 3], docIds: ["a", "b"], shard: "s-00000.arrow" },
  Prediction: {
    system: "sys", modelId: "m", modelRevision: "r", adapterHash: "h", task: "mcqa", shots: 0, itemId: "i", datasetVersion: "v", promptHash: "p", decodingHash: "d", cacheKey: "k",
    options: [{ logprob: -1.5, tokens: 3, chars: 10, bytes: 10, greedy: true }]
  }
}

/**
 * The base record, and many neighbours of it: a field dropped, each field set to each of
 * `oddValues`, a field added, the keys reordered, the fields inherited from a prototype.
 */
export const neighbours = (base: Record<string, unknown>, oddValues: ReadonlyArray<unknown>): Array<unknown> => {
  const out: Array<unknown> = [base, null, [], "text", 3]
  const keys = Object.keys(base)
  for (const k of keys) {
    const { [k]: _dropped, ...rest } = base
    out.push(rest)
    for (const v of oddValues) out.push({ ...base, [k]: v })
  }
  out.push({ ...base, extra: 1 })
  out.push(Object.fromEntries([...keys].reverse().map((k) => [k, base[k]])))
  out.push(Object.assign(Object.create({ inherited: 1 }), base))
  return out
}
