import { Effect } from "effect"
import type { Warehouse } from "../../warehouse/warehouse.ts"
import type { Pipeline } from "./graph.ts"
import { buildCorpusRun, CORPUS_TOPICS, corpusOptionsFromEnv } from "../corpus.ts"
import { sampleScoresPipeline } from "../sample-scores.ts"

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
  },
  {
    name: "corpus",
    description: "Clean, scrub, deduplicate, tokenize and pack a French health corpus (input $FLEUVE_CORPUS_INPUT, default data/corpus/sample.jsonl; shards to $FLEUVE_CORPUS_OUT, default out/corpus; see `fleuve corpus --help`)",
    topics: CORPUS_TOPICS,
    build: Effect.suspend(() => buildCorpusRun(corpusOptionsFromEnv())).pipe(Effect.map((run) => run.pipeline))
  }
]

export const findPipeline = (name: string) => pipelines.find((p) => p.name === name)
