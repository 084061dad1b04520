import { Schema } from "effect"
import { CorpusDocument, CorpusKnownDocument, CorpusLedgerEntry, CorpusRead, PackedSequence } from "./corpus-document.ts"
import { RunMarker } from "./run-marker.ts"
import { DeadLetter } from "./dead-letter.ts"
import { EvalRequest, Prediction, Score } from "./evaluation.ts"
import { QAItem } from "./qa-item.ts"
import { KeyedEvalRequest, PredictionRecord } from "./qa-record.ts"

/**
 * Every record that crosses a stage, with the stable subject and version under which a schema
 * registry knows it. Bump `version` on any change; keep changes backward compatible.
 */
export const Records = {
  CorpusDocument: { subject: "fleuve.CorpusDocument", version: 1, schema: CorpusDocument },
  CorpusRead: { subject: "fleuve.CorpusRead", version: 1, schema: CorpusRead },
  PackedSequence: { subject: "fleuve.PackedSequence", version: 1, schema: PackedSequence },
  CorpusLedgerEntry: { subject: "fleuve.CorpusLedgerEntry", version: 2, schema: CorpusLedgerEntry },
  CorpusKnownDocument: { subject: "fleuve.CorpusKnownDocument", version: 1, schema: CorpusKnownDocument },
  RunMarker: { subject: "fleuve.RunMarker", version: 1, schema: RunMarker },
  QAItem: { subject: "fleuve.QAItem", version: 1, schema: QAItem },
  EvalRequest: { subject: "fleuve.EvalRequest", version: 1, schema: EvalRequest },
  Prediction: { subject: "fleuve.Prediction", version: 1, schema: Prediction },
  KeyedEvalRequest: { subject: "fleuve.KeyedEvalRequest", version: 1, schema: KeyedEvalRequest },
  PredictionRecord: { subject: "fleuve.PredictionRecord", version: 1, schema: PredictionRecord },
  Score: { subject: "fleuve.Score", version: 1, schema: Score },
  DeadLetter: { subject: "fleuve.DeadLetter", version: 1, schema: DeadLetter }
} as const

export type RecordName = keyof typeof Records

/** JSON Schema (draft 2020-12) of a record, derived from its Effect Schema. */
export const jsonSchemaOf = (name: RecordName): Record<string, unknown> => {
  const doc = Schema.toJsonSchemaDocument(Records[name].schema as Schema.Top)
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: Records[name].subject,
    ...doc.schema,
    ...(Object.keys(doc.definitions).length > 0 ? { $defs: doc.definitions } : {})
  }
}
