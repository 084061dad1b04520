import { Effect } from "effect"
import { join } from "node:path"
import { promptAnswerSequence } from "../../model/index.ts"
import { type StepReport, train, type TrainingMode, type TrainOptions, type TrainingSequence } from "../../model/index.ts"
import type { Qwen3Model } from "../../model/index.ts"
import type { TextTokenizer } from "../../model/index.ts"
import type { QaTrainingRecord, TrainingStep } from "../../schemas/training.ts"
import { batched, type Operator, OperatorFailure, Outcome } from "../operator.ts"

/** What the trainer reads: a packed sequence (topic corpus.packed) or a QA training record. */
export type TrainerInput = { readonly ids: ReadonlyArray<number> } | QaTrainingRecord

export interface TrainerOperatorOptions {
  readonly run: string
  readonly model: Qwen3Model
  readonly tokenizer: TextTokenizer
  readonly mode: TrainingMode
  readonly seqLen: number
  readonly train: Omit<TrainOptions, "totalSteps"> & { readonly totalSteps?: number }
  readonly onStep?: (r: StepReport) => void
}

/**
 * Trains on everything it reads. Inputs are checked and held as they come (a sequence of the
 * wrong length or an answer longer than the sequence is a dead letter); the run happens at flush,
 * when the data set is complete, so the schedule knows its length and a resumed run sees the
 * same order. Emits one TrainingStep per optimizer step.
 */
export const trainer = (options: TrainerOperatorOptions): Operator<TrainerInput, TrainingStep> => {
  const data: Array<TrainingSequence> = []
  return batched(
    "model-trainer",
    (batch) =>
      Effect.sync(() =>
        batch.map((input) => {
          const v = input.value
          if ("ids" in v) {
            if (v.ids.length !== options.seqLen) return Outcome.reject(`sequence has ${v.ids.length} tokens, the trainer packs ${options.seqLen}`, "ids")
            data.push({ ids: v.ids })
          } else {
            try {
              data.push(promptAnswerSequence(options.tokenizer, v.prompt, v.answer, options.seqLen))
            } catch (e) {
              return Outcome.reject(e instanceof Error ? e.message : String(e), "answer")
            }
          }
          return Outcome.emit<TrainingStep>()
        })
      ),
    () =>
      Effect.tryPromise({
        try: async () => {
          if (data.length === 0) return []
          const perStep = options.train.microBatch * options.train.gradAccumulation
          const totalSteps = options.train.totalSteps ?? Math.max(1, Math.floor(data.length / perStep))
          const steps: Array<TrainingStep> = []
          await train(options.model, options.mode, data, { ...options.train, totalSteps }, (r) => {
            options.onStep?.(r)
            steps.push({ run: options.run, ...r, ...(r.step === totalSteps ? { output: join(options.train.outDir, "final") } : {}) })
          })
          return steps.map((value) => ({ key: options.run, value, position: { _tag: "Generated" as const, generator: `train:${options.run}`, seq: value.step } }))
        },
        catch: (e) => new OperatorFailure({ operator: "model-trainer", message: e instanceof Error ? e.message : String(e), cause: e })
      })
  )
}
