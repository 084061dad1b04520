/**
 * DuckDB hands back bigints, Dates, decimals and nested values. Analysts and JSON output want
 * plain numbers and strings: convert once, here.
 */
export const toPlain = (value: unknown): unknown => {
  if (value === null || value === undefined) return null
  if (typeof value === "bigint") {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString()
  }
  if (value instanceof Date) return value.toISOString()
  if (Array.isArray(value)) return value.map(toPlain)
  if (typeof value === "object") {
    const o = value as Record<string, unknown>
    // DuckDB's JS conversion yields Decimal/Timestamp helper objects with a toString.
    if (typeof o.toDouble === "function") return (o.toDouble as () => number)()
    if (o.constructor !== Object && typeof o.toString === "function") return String(o)
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, toPlain(v)]))
  }
  return value
}

export type Row = Record<string, unknown>
