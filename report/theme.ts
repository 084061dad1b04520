/**
 * The report theme file (`fleuve report --config theme.json`): a Vega-Lite config merged over the
 * house theme. Checked against Vega-Lite's own JSON Schema (shipped in the vega-lite package), so a
 * misspelled key (`labelFontSise`) or a wrong type (`"padding": "8"`) is an error naming the file and
 * key path, with the nearest valid name, instead of a figure that silently ignores it.
 */
import { Schema } from "effect"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { didYouMean } from "../lib/nearest-name.ts"
import { ConfigFileError, formatKeyPath, readConfigFileSync } from "../schemas/config-file.ts"

type JsonSchema = {
  $ref?: string
  anyOf?: Array<JsonSchema>
  type?: string | Array<string>
  properties?: Record<string, JsonSchema>
  additionalProperties?: boolean | JsonSchema
  items?: JsonSchema
  enum?: Array<unknown>
  const?: unknown
  minimum?: number
  maximum?: number
}

let definitions: Record<string, JsonSchema> | undefined
const defs = () =>
  (definitions ??= (JSON.parse(readFileSync(createRequire(import.meta.url).resolve("vega-lite/vega-lite-schema.json"), "utf8")) as { definitions: Record<string, JsonSchema> }).definitions)

const resolveRef = (s: JsonSchema): JsonSchema => (s.$ref ? resolveRef(defs()[s.$ref.replace("#/definitions/", "")]!) : s)

const jsonType = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v)
const typeOk = (t: string, v: unknown) => (t === "integer" ? Number.isInteger(v) : t === jsonType(v))
const show = (v: unknown) => {
  const s = JSON.stringify(v) ?? String(v)
  return s.length > 60 ? `${s.slice(0, 57)}...` : s
}

const kindsOf = (node: JsonSchema): Array<string> => {
  const s = resolveRef(node)
  return s.anyOf ? s.anyOf.flatMap(kindsOf) : s.type !== undefined ? [s.type].flat() : s.enum || s.const !== undefined ? ["string"] : ["object"]
}

/** The problems of `value` against a node of the schema, as `path: message` lines. */
const check = (value: unknown, node: JsonSchema, path: ReadonlyArray<PropertyKey>): Array<string> => {
  const s = resolveRef(node)
  const at = path.length === 0 ? "(top level)" : formatKeyPath(path)
  if (s.anyOf) {
    const results = s.anyOf.map((b) => check(value, b, path))
    if (results.some((r) => r.length === 0)) return []
    // The branch of the value's own kind says most (an object's unknown key, not "expected number").
    const sameKind = s.anyOf.map((b, i) => [resolveRef(b), results[i]!] as const).filter(([b]) => b.type !== undefined && [b.type].flat().some((t) => typeOk(t, value)))
    if (sameKind.length > 0) return sameKind.reduce((a, b) => (b[1].length < a[1].length ? b : a))[1]
    const kinds = [...new Set(kindsOf(s))]
    return [`${at}: expected ${kinds.join(" or ")}, got ${show(value)}`]
  }
  if (s.const !== undefined && value !== s.const) return [`${at}: expected ${show(s.const)}, got ${show(value)}`]
  if (s.enum && !s.enum.includes(value)) return [`${at}: expected one of ${s.enum.map(show).join(", ")}, got ${show(value)}`]
  if (s.type !== undefined && ![s.type].flat().some((t) => typeOk(t, value))) return [`${at}: expected ${[s.type].flat().join(" or ")}, got ${show(value)}`]
  if (typeof value === "number") {
    if (s.minimum !== undefined && value < s.minimum) return [`${at}: must be at least ${s.minimum}, got ${value}`]
    if (s.maximum !== undefined && value > s.maximum) return [`${at}: must be at most ${s.maximum}, got ${value}`]
  }
  if (Array.isArray(value) && s.items) return value.flatMap((v, i) => check(v, s.items!, [...path, i]))
  if (jsonType(value) === "object" && s.properties) {
    const known = Object.keys(s.properties)
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) =>
      s.properties![k]
        ? check(v, s.properties![k]!, [...path, k])
        : s.additionalProperties === false
        ? [`${formatKeyPath([...path, k])}: unknown key${didYouMean(k, known)}`]
        : []
    )
  }
  return []
}

/** Problems of a Vega-Lite config, one line each; empty when it is valid. */
export const checkVegaLiteConfig = (config: unknown): Array<string> => check(config, { $ref: "#/definitions/Config" }, [])

/** Reads and checks a theme file; throws ConfigFileError naming the file and every bad key. */
export const readThemeFile = (file: string): Record<string, unknown> => {
  const theme = readConfigFileSync(Schema.Record(Schema.String, Schema.Unknown), file)
  const problems = checkVegaLiteConfig(theme)
  if (problems.length > 0) throw new ConfigFileError({ file, message: `${file}: ${problems.join("; ")}` })
  return theme
}
