import { Schema } from "effect"
import { controlCharacterIn, parseDecimalInteger } from "../../lib/decimal.ts"
import { Score } from "../../schemas/evaluation.ts"
import { map, Outcome, RecordRejected } from "../operator.ts"
import type { RawRecord } from "../readers/raw-record.ts"

export const REQUIRED_SCORE_COLUMNS = ["system", "task", "shots", "item_id", "score"] as const
export const DEFAULT_METRIC = "score"
export const DEFAULT_DATASET_VERSION = "unversioned"

const reject = (reason: string, field?: string): never => {
  throw new RecordRejected({ reason, ...(field ? { field } : {}) })
}

const text = (row: Readonly<Record<string, unknown>>, field: string, required: boolean): string | undefined => {
  const v = row[field]
  if (v === undefined || v === null || (typeof v === "string" && v.trim() === "")) {
    return required ? reject(field in row ? `missing value for '${field}'` : `missing column '${field}'`, field) : undefined
  }
  if (typeof v === "string") {
    // A NUL or other control character in a key field is corruption, never part of an id.
    const control = controlCharacterIn(v)
    if (control) return reject(`'${field}' contains the control character ${control}`, field)
    return v.trim()
  }
  if (typeof v === "number" || typeof v === "bigint") return String(v)
  return reject(`'${field}' must be a string, got ${typeof v}`, field)
}

const number = (row: Readonly<Record<string, unknown>>, field: string): number => {
  const raw = row[field]
  const v = typeof raw === "bigint" ? Number(raw) : typeof raw === "string" ? (raw.trim() === "" ? NaN : Number(raw.trim())) : raw
  if (typeof v !== "number" || (Number.isNaN(v) && typeof raw !== "number" && !/^[+-]?nan$/i.test(String(raw).trim()))) {
    return reject(`non-numeric ${field} '${String(raw)}'`, field)
  }
  if (!Number.isFinite(v)) return reject(`non-finite ${field} '${String(raw)}'`, field)
  return v
}

const decodeScore = Schema.decodeUnknownSync(Score)

/** Turns a raw table row into a Score, naming the field at fault when it cannot. */
export const parseScoreRow = map<RawRecord, Score>("parse-score-row", (raw) => {
  if (raw._tag === "Unreadable") return Outcome.reject(raw.reason)
  const row = raw.fields
  const system = text(row, "system", true)!
  const task = text(row, "task", true)!
  const itemId = text(row, "item_id", true)!
  text(row, "shots", true)
  // Typed as text (CSV, or a JSON string), shots must be a plain decimal integer: Number() read
  // "0x10" as 16 shots and "1e1" as 10.
  if (typeof row.shots === "string" && Number.isFinite(Number(row.shots.trim())) && parseDecimalInteger(row.shots) === undefined) {
    reject(`non-integer shots '${row.shots}' (expected a decimal integer 0, 1, 2, …)`, "shots")
  }
  const shots = number(row, "shots")
  if (!Number.isInteger(shots) || shots < 0) reject(`non-integer shots '${String(row.shots)}' (expected 0, 1, 2, …)`, "shots")
  text(row, "score", true)
  const score = number(row, "score")
  const metric = text(row, "metric", false) ?? DEFAULT_METRIC
  const datasetVersion = text(row, "dataset_version", false) ?? DEFAULT_DATASET_VERSION
  const judge = text(row, "judge", false)
  return decodeScore({ system, task, shots, itemId, datasetVersion, metric, score, ...(judge ? { judge } : {}) })
})
