import type { Score } from "../../schemas/evaluation.ts"

/** The Kafka benches' record i: a Score with `judge` as its padding (60 bytes by default: 195 bytes as JSON). */
export const benchScore = (i: number, judge = "x".repeat(60)): Score => ({
  system: "EnMed-Unified", task: "mcqa", shots: 3, itemId: `item-${String(i).padStart(7, "0")}`, datasetVersion: "bench", metric: "acc", score: i % 2, judge
})
