import { Context, Effect, Schema } from "effect"
import type { StatsSnapshot } from "../../operators/stats.ts"
import type { DeadLetter } from "../../schemas/dead-letter.ts"
import type { Pipeline } from "./graph.ts"

/** Where consumers start: their committed positions (default), the beginning, or a time. */
export type ReplayFrom =
  | { readonly _tag: "Committed" }
  | { readonly _tag: "Beginning" }
  | { readonly _tag: "Timestamp"; readonly epochMs: number }

export interface RunOptions {
  readonly from?: ReplayFrom
  /** Partitions per topic: records with the same key always share one (per-key ordering). */
  readonly partitions?: number
  /** Bound of each partition's queue, in records: a full queue makes producers wait (backpressure). */
  readonly queueCapacity?: number
  /**
   * Threads for stages that declare an offload (embedded runtime): 1 (default) computes
   * everything on the main thread; n > 1 starts n worker threads per such stage.
   */
  readonly workers?: number
  /** Called every progressIntervalMs, and once more with `final` when the run ends. */
  readonly onProgress?: (stages: ReadonlyArray<StatsSnapshot>, final?: boolean) => void
  readonly progressIntervalMs?: number
  /**
   * Nodes this process leaves to workers in other processes (`fleuve worker NODE`; Kafka runtime
   * only, the embedded runtime refuses it): they are not started here, but the run still waits
   * until their consumer groups have handled everything upstream wrote.
   */
  readonly elsewhere?: ReadonlyArray<string>
}

export interface RunReport {
  readonly pipeline: string
  readonly runtime: string
  readonly elapsedMs: number
  readonly stages: ReadonlyArray<StatsSnapshot>
  /** Dead letters the run produced (also handed to the pipeline's dead-letter sink). */
  readonly deadLetters: ReadonlyArray<DeadLetter>
  /** Last committed position per `topic/partition`, after the sinks wrote. */
  readonly committed: Readonly<Record<string, number>>
  /** Per stage with an offload: records whose stateless work ran on worker threads (embedded runtime). */
  readonly offloaded?: Readonly<Record<string, number>>
}

export class PipelineFailure extends Schema.TaggedError<PipelineFailure>()("PipelineFailure", {
  pipeline: Schema.String,
  message: Schema.String
}) {}

/**
 * The runtime interface. The embedded runtime (default) runs the whole graph in-process; the
 * Kafka runtime runs each stage as a consumer group. Operators cannot tell them apart.
 */
export class PipelineRuntime extends Context.Service<PipelineRuntime, {
  readonly name: string
  readonly run: <R>(pipeline: Pipeline<R>, options?: RunOptions) => Effect.Effect<RunReport, PipelineFailure, R>
}>()("fleuve/pipelines/PipelineRuntime") {}
