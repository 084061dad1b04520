import { Effect, Schema, Stream } from "effect"
import { extname } from "node:path"
import type { DeadLetter } from "../../../schemas/dead-letter.ts"
import { QAItem } from "../../../schemas/qa-item.ts"
import type { LoadedQAItem } from "../../../schemas/qa-record.ts"
import type { Envelope } from "../../envelope.ts"
import { map, type Operator, OperatorFailure, Outcome, RecordRejected, runOnStream } from "../../operator.ts"
import { readTable, type RawRecord } from "../../readers/index.ts"
import { contentHashOf } from "./content-hash.ts"
import type { Row } from "./fields.ts"
import { parseFrenchMedMcqa } from "./frenchmedmcqa.ts"
import { checkMapping, type FieldMapping, parseGeneric } from "./generic.ts"
import { readQaJson } from "./json-file.ts"
import { parseMediqalMcq, parseMediqalOeq } from "./mediqal.ts"
import { parseSquad } from "./squad.ts"

export type { FieldMapping } from "./generic.ts"
export { contentHashOf } from "./content-hash.ts"

export const QA_FORMATS = ["frenchmedmcqa", "drbenchmark", "mediqal-mcqu", "mediqal-mcqm", "mediqal-oeq", "squad", "generic"] as const
export type QaFormat = typeof QA_FORMATS[number]

const parserOf = (format: QaFormat, mapping?: FieldMapping): ((row: Row) => QAItem) => {
  switch (format) {
    case "frenchmedmcqa":
    case "drbenchmark":
      return parseFrenchMedMcqa
    case "mediqal-mcqu":
      return parseMediqalMcq("mcqu")
    case "mediqal-mcqm":
      return parseMediqalMcq("mcqm")
    case "mediqal-oeq":
      return parseMediqalOeq
    case "squad":
      return parseSquad
    case "generic":
      if (!mapping) throw new Error("the generic loader needs a field mapping")
      checkMapping(mapping)
      return parseGeneric(mapping)
  }
}

const decodeItem = Schema.decodeUnknownExit(QAItem)

/**
 * Raw rows → LoadedQAItems of `dataset`. A malformed row becomes a dead letter naming its field;
 * the schema check afterwards catches anything a parser let through.
 */
export const qaLoader = (format: QaFormat, dataset: string, mapping?: FieldMapping): Operator<RawRecord, LoadedQAItem> => {
  const parse = parserOf(format, mapping)
  return map<RawRecord, LoadedQAItem>(`load-${format}`, (raw) => {
    if (raw._tag === "Unreadable") return Outcome.reject(raw.reason)
    let parsed: QAItem
    try {
      parsed = parse(raw.fields)
    } catch (e) {
      if (e instanceof RecordRejected) return Outcome.reject(e.reason, e.field)
      throw e
    }
    const checked = decodeItem(parsed)
    if (checked._tag === "Failure") return Outcome.reject(`not a valid QA item: ${String(checked.cause).replace(/\s+/g, " ").slice(0, 300)}`)
    return { dataset, contentHash: contentHashOf(checked.value), item: checked.value }
  })
}

/** Reads any QA file: .json (array, nested SQuAD or JSON Lines), .jsonl, .csv, .parquet. */
export const readQaFile = (path: string): Stream.Stream<Envelope<RawRecord>, OperatorFailure> =>
  extname(path.replace(/\.gz$/, "")).toLowerCase() === ".json" && !path.endsWith(".gz") ? readQaJson(path) : readTable(path)

export interface LoadedFile {
  readonly items: ReadonlyArray<LoadedQAItem>
  readonly deadLetters: ReadonlyArray<DeadLetter>
}

/**
 * Loads a whole file (QA sets are small: thousands of items). Duplicate ids within a file are
 * malformed too: the second one is a dead letter, so an item id always names one item.
 */
export const loadQaFile = (path: string, format: QaFormat, options: { readonly dataset?: string; readonly mapping?: FieldMapping } = {}) =>
  Effect.gen(function*() {
    const dataset = options.dataset ?? path
    const op = yield* Effect.try({
      try: () => qaLoader(format, dataset, options.mapping),
      catch: (e) => new OperatorFailure({ operator: `load-${format}`, message: e instanceof Error ? e.message : String(e) })
    })
    const routed = yield* Stream.runCollect(runOnStream(op, readQaFile(path)))
    const items: Array<LoadedQAItem> = []
    const deadLetters: Array<DeadLetter> = []
    const seen = new Map<string, string>()
    for (const r of routed) {
      if (r._tag === "DeadLetter") {
        deadLetters.push(r.deadLetter)
        continue
      }
      const e = r.envelope
      const first = seen.get(e.value.item.id)
      if (first !== undefined) {
        deadLetters.push({ operator: op.name, reason: `duplicate id '${e.value.item.id}' (first at ${first})`, field: "id", position: e.position, record: JSON.stringify(e.value.item) })
        continue
      }
      seen.set(e.value.item.id, e.position._tag === "File" ? `${e.position.file}:${e.position.line}` : e.key)
      items.push(e.value)
    }
    return { items, deadLetters } satisfies LoadedFile
  })
