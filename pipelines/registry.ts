import type { Effect } from "effect"
import type { Warehouse } from "../warehouse/warehouse.ts"
import type { Pipeline } from "./graph.ts"
import { sampleScoresPipeline } from "./sample-scores.ts"

export interface RegisteredPipeline {
  readonly name: string
  readonly description: string
  readonly topics: ReadonlyArray<string>
  readonly build: Effect.Effect<Pipeline<Warehouse>, unknown, Warehouse>
}

/** The pipelines `fleuve run` knows, by name. */
export const pipelines: ReadonlyArray<RegisteredPipeline> = [
  {
    name: "sample-scores",
    description: "Generate a deterministic EnMed-shaped grid of item-level scores and land it in `scores`",
    topics: ["eval.scores.generated", "eval.scores"],
    build: sampleScoresPipeline
  }
]

export const findPipeline = (name: string) => pipelines.find((p) => p.name === name)
