import { Schema } from "effect"

/** A question-answer training record for LoRA: only the answer's tokens are targets. */
export const QaTrainingRecord = Schema.Struct({
  id: Schema.String,
  prompt: Schema.String,
  answer: Schema.String
})
export type QaTrainingRecord = typeof QaTrainingRecord.Type

/** One optimizer step of a training run, as the trainer operator emits it. */
export const TrainingStep = Schema.Struct({
  run: Schema.String,
  step: Schema.Int,
  totalSteps: Schema.Int,
  loss: Schema.Finite,
  lr: Schema.Finite,
  gradNorm: Schema.Finite,
  tokens: Schema.Int,
  tokensPerSecond: Schema.Finite,
  etaSeconds: Schema.Finite,
  /** Folder of the final adapter or checkpoint, on the last step. */
  output: Schema.optional(Schema.String)
})
export type TrainingStep = typeof TrainingStep.Type
