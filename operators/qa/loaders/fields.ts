import { RecordRejected } from "../../operator.ts"

/** Reading typed fields out of a raw row; every failure names the field at fault. */
export type Row = Readonly<Record<string, unknown>>

export const reject = (reason: string, field?: string): never => {
  throw new RecordRejected({ reason, ...(field ? { field } : {}) })
}

const blank = (v: unknown) => v === undefined || v === null || (typeof v === "string" && v.trim() === "")

export const requiredText = (row: Row, field: string): string => {
  const v = row[field]
  if (blank(v)) return reject(field in row ? `empty '${field}'` : `missing field '${field}'`, field)
  if (typeof v === "string") return v.trim()
  if (typeof v === "number" || typeof v === "bigint") return String(v)
  return reject(`'${field}' must be a string, got ${Array.isArray(v) ? "an array" : typeof v}`, field)
}

export const optionalText = (row: Row, field: string): string | undefined => (blank(row[field]) ? undefined : requiredText(row, field))

const LETTERS = "ABCDE"

/**
 * Answer letters in any of the published spellings: ["a","c"], "A,C,E", "a c", "AC". Returned
 * upper-case, de-duplicated, in letter order.
 */
export const answerLetters = (row: Row, field: string): Array<"A" | "B" | "C" | "D" | "E"> => {
  const v = row[field]
  if (blank(v)) return reject(field in row ? `empty '${field}'` : `missing field '${field}'`, field)
  const parts: Array<string> = Array.isArray(v)
    ? v.map((x) => String(x))
    : typeof v === "string"
    ? (/[,;|\s]/.test(v.trim()) ? v.split(/[,;|\s]+/) : v.trim().split(""))
    : reject(`'${field}' must be a list of letters or a string like "A,C", got ${typeof v}`, field)
  const letters = parts.map((p) => p.trim().toUpperCase()).filter((p) => p !== "")
  const bad = letters.find((l) => l.length !== 1 || !LETTERS.includes(l))
  if (bad !== undefined) return reject(`'${field}' has '${bad}', expected letters A to E`, field)
  if (letters.length === 0) return reject(`'${field}' lists no answer`, field)
  return [...new Set(letters)].sort() as Array<"A" | "B" | "C" | "D" | "E">
}

export const integer = (row: Row, field: string): number | undefined => {
  const v = row[field]
  if (blank(v)) return undefined
  const n = typeof v === "bigint" ? Number(v) : typeof v === "string" ? Number(v.trim()) : v
  if (typeof n !== "number" || !Number.isInteger(n)) return reject(`'${field}' must be an integer, got '${String(v)}'`, field)
  return n
}

/** Options answer_a..answer_e (DrBenchmark, MediQAl): consecutive, none empty before the last. */
export const letteredOptions = (row: Row, prefix = "answer_"): Array<string> => {
  const options: Array<string> = []
  for (const l of "abcde") {
    const field = `${prefix}${l}`
    if (blank(row[field])) break
    options.push(requiredText(row, field))
  }
  for (const l of "abcde".slice(options.length + 1)) {
    if (!blank(row[`${prefix}${l}`])) return reject(`'${prefix}${l}' is set but '${prefix}${"abcde"[options.length]}' is empty`, `${prefix}${"abcde"[options.length]}`)
  }
  if (options.length < 2) return reject(`expected at least 2 options ${prefix}a, ${prefix}b…, found ${options.length}`, `${prefix}${"abcde"[options.length]}`)
  return options
}
