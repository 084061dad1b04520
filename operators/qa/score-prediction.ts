import { Effect } from "effect"
import type { Score } from "../../schemas/evaluation.ts"
import type { QAItem } from "../../schemas/qa-item.ts"
import type { PredictionRecord } from "../../schemas/qa-record.ts"
import { fromEffect, OperatorFailure, Outcome, RecordRejected } from "../operator.ts"
import type { Judge, JudgeVerdict } from "./judge/judge.ts"
import { scoreMcqa } from "./metrics/mcqa.ts"
import { squadScores } from "./metrics/squad.ts"

export interface JudgementSink<R> {
  readonly record: (cacheKey: string, judge: Judge, verdict: JudgeVerdict) => Effect.Effect<void, OperatorFailure, R>
}

/**
 * Prediction → item-level Scores: MCQA acc, acc_norm, acc_bytes, hamming, emr; ExtQA f1, em;
 * AbsQA judge (1-5, with the judge's identity). `items` maps `${dataset}\0${itemId}` to the gold.
 */
export const scorePrediction = <R>(items: ReadonlyMap<string, QAItem>, judge: Judge, judgements: JudgementSink<R>) =>
  fromEffect<PredictionRecord, Score, R>("score-prediction", (record, input) =>
    Effect.gen(function*() {
      const p = record.prediction
      const item = items.get(`${p.datasetVersion}\0${p.itemId}`)
      if (!item) return yield* new RecordRejected({ reason: `no item ${p.itemId} in ${p.datasetVersion}`, field: "itemId" })
      const base = { system: p.system, task: p.task, shots: p.shots, itemId: p.itemId, datasetVersion: p.datasetVersion }
      const out = (values: ReadonlyArray<Score>) => Outcome.emit(...values.map((value) => ({ key: input.key, position: input.position, value })))
      switch (item.task) {
        case "mcqa": {
          if (!p.options || p.options.length !== item.options.length) return yield* new RecordRejected({ reason: `expected ${item.options.length} option scores, got ${p.options?.length ?? 0}`, field: "options" })
          const s = scoreMcqa(p.options, item.correct)
          return out((["acc", "acc_norm", "acc_bytes", "hamming", "emr"] as const).map((metric) => ({ ...base, metric, score: s[metric] })))
        }
        case "extqa": {
          const s = squadScores(p.output ?? "", item.answers.map((a) => a.text))
          return out([{ ...base, metric: "f1", score: s.f1 }, { ...base, metric: "em", score: s.em }])
        }
        case "absqa": {
          const verdict = yield* judge.judge({ question: item.question, context: item.context, reference: item.reference, answer: p.output ?? "" }).pipe(
            Effect.mapError((e) => new RecordRejected({ reason: `judge ${e.judge}: ${e.message}`, field: "output" }))
          )
          yield* judgements.record(p.cacheKey, judge, verdict)
          return out([{ ...base, metric: "judge", score: verdict.score, judge: verdict.judge }])
        }
      }
    }))
