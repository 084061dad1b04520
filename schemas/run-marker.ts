import { Schema } from "effect"

/**
 * Where one run of a pipeline begins and ends in its ordered topics (Kafka, pipelines with
 * `runs`): the process that starts the run writes `begin`, the run's starting state, its records
 * and `end` to the source topic; every stage forwards the markers in order, so a stage worker
 * starts each run from a fresh state, flushes at its end, and a new owner of a partition can find
 * where the run it takes over began. Carried with the header `fleuve.marker` (see docs/kafka.md).
 */
export const RunMarker = Schema.Struct({
  run: Schema.String,
  phase: Schema.Literals(["begin", "end"])
})
export type RunMarker = typeof RunMarker.Type
