import { Effect } from "effect"
import { sqlFile, Warehouse } from "./warehouse.ts"

export interface JudgedAnswer {
  readonly itemId: string
  readonly answer: string
  readonly question: string
  readonly context: string | undefined
  readonly reference: string
}

/** One system's AbsQA answers at one shot count with what a judge needs beside them (sql/judge_agreement_sample.sql). */
export const judgeAgreementSample = (system: string, shots: number, limit: number) =>
  Effect.gen(function*() {
    const w = yield* Warehouse
    const rows = yield* w.query<{ item_id: string; output: string | null; payload: string }>(sqlFile("judge_agreement_sample"), [system, shots, limit])
    return rows.map((r): JudgedAnswer => {
      const item = JSON.parse(r.payload) as { question: string; context?: string; reference: string }
      return { itemId: r.item_id, answer: r.output ?? "", question: item.question, context: item.context, reference: item.reference }
    })
  })
