import { Effect, Schema } from "effect"
import type { BackendName, ScoringEngineName } from "../../model/index.ts"
import type { Pipeline } from "../runtime/graph.ts"
import { EVALUATION_PIPELINE_PREFIX, evaluationWorkerPipeline, SCORER_NODE } from "./grid.ts"
import { type EndpointSpec, endpointSystem } from "./systems.ts"

/** A scorer worker asked for something it cannot run: a node other than the scorer, no model, two models. */
export class ScorerWorkerRefused extends Schema.TaggedError<ScorerWorkerRefused>()("ScorerWorkerRefused", {
  message: Schema.String
}) {}

export interface ScorerWorkerSource {
  /** The system's inference server (`--endpoint … --endpoint-model …`). */
  readonly endpoint?: EndpointSpec | undefined
  /** Or its checkpoint folder (`--model DIR [--model-name N]`), loaded in this process. */
  readonly model?: { readonly dir: string; readonly name: string; readonly backend: BackendName; readonly engine: ScoringEngineName | undefined } | undefined
}

export const isEvaluationPipeline = (name: string) => name.startsWith(EVALUATION_PIPELINE_PREFIX) && name.length > EVALUATION_PIPELINE_PREFIX.length

/**
 * What `fleuve worker predict --pipeline evaluate-<system>` runs: the scorer stage of that
 * system's grid, answering with the system's model (its inference server or its checkpoint),
 * without the warehouse. Every other node of the grid needs the warehouse (the prediction cache,
 * the judgements, the rows) and runs in the `reeval` process that owns it.
 */
export const scorerWorkerPipeline = (pipelineName: string, node: string, source: ScorerWorkerSource, log: (line: string) => void): Effect.Effect<Pipeline<never>, ScorerWorkerRefused | { readonly message: string }> =>
  Effect.gen(function*() {
    const system = pipelineName.slice(EVALUATION_PIPELINE_PREFIX.length)
    if (node !== SCORER_NODE) {
      return yield* new ScorerWorkerRefused({
        message: `pipeline '${pipelineName}': only its scorer stage '${SCORER_NODE}' runs in a worker; '${node}' needs the warehouse and runs in \`fleuve reeval --runtime kafka\``
      })
    }
    if (source.endpoint && source.model) return yield* new ScorerWorkerRefused({ message: `worker ${SCORER_NODE} of '${pipelineName}': give --endpoint or --model, not both` })
    if (source.endpoint) {
      const served = yield* endpointSystem({ ...source.endpoint, system }, log)
      log(`scorer of ${pipelineName}: ${served.description}`)
      return evaluationWorkerPipeline(served)
    }
    if (source.model) {
      const m = source.model
      const loaded = yield* Effect.tryPromise({
        // The tensor runtime loads only when a model is asked for.
        try: async () => (await import("./checkpoint-system.ts")).checkpointSystem({ ...m, log }),
        catch: (e) => ({ message: e instanceof Error ? e.message : String(e) })
      })
      return evaluationWorkerPipeline({ ...loaded, system })
    }
    return yield* new ScorerWorkerRefused({
      message: `worker ${SCORER_NODE} of '${pipelineName}' needs the system's model, as reeval was given it: --endpoint URL --endpoint-model NAME [--endpoint-tokenizer DIR --endpoint-revision R], or --model DIR [--model-name N]`
    })
  })
