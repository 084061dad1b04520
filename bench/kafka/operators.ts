import { exportedAs, map } from "../../operators/operator.ts"
import type { Score } from "../../schemas/evaluation.ts"

/**
 * The benches' mapping operator: a new record for each (every output encoded). Exported so that a
 * Kafka stage's record-path worker threads import it (pipelines/kafka/record-path.ts).
 */
export const rescore = exportedAs(map("rescore", (s: Score): Score => ({ ...s, score: 1 - s.score })), import.meta.url, "rescore")
