/**
 * Decoding the files users hand fleuve to configure it (corpus thresholds, prompt sets, judge
 * rubrics, dataset manifests, report themes) through an Effect Schema, strictly: a wrong type, a
 * value out of range or a key the schema does not know is an error that names the file and the
 * key path (`quality.minWords`, `languages[0]`), with the nearest valid name for a misspelled key.
 * A typo is never silently ignored and a string is never taken for a list.
 *
 *   const config = yield* readConfigFile(CorpusConfig, path)       // Effect, fails with ConfigFileError
 *   const prompts = readConfigFileSync(PromptSet, path)            // throws ConfigFileError
 */
import { Effect, Schema, SchemaAST, SchemaIssue } from "effect"
import { readFileSync } from "node:fs"
import { didYouMean } from "../lib/nearest-name.ts"

export class ConfigFileError extends Schema.TaggedError<ConfigFileError>()("ConfigFileError", {
  file: Schema.String,
  message: Schema.String
}) {}

const UNKNOWN_KEY = "\u0000unknown-key\u0000"

/** `a.b[0].c` */
export const formatKeyPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>((s, k) => (typeof k === "number" ? `${s}[${k}]` : s === "" ? String(k) : `${s}.${String(k)}`), "")

const valueAt = (input: unknown, path: ReadonlyArray<PropertyKey>): { found: boolean; value?: unknown } => {
  let v = input
  for (const k of path) {
    if (v === null || typeof v !== "object" || !Object.prototype.hasOwnProperty.call(v, k)) return { found: false }
    v = (v as Record<PropertyKey, unknown>)[k]
  }
  return { found: true, value: v }
}

const show = (v: unknown): string => {
  const s = JSON.stringify(v)
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s
}

// An unexpected key's issue carries the struct's AST: its property names are the valid keys.
const formatter = SchemaIssue.makeFormatterStandardSchemaV1({
  leafHook: (issue) =>
    issue._tag === "UnexpectedKey" && SchemaAST.isObjects(issue.ast)
      ? UNKNOWN_KEY + JSON.stringify(issue.ast.propertySignatures.map((p) => String(p.name)))
      : SchemaIssue.defaultLeafHook(issue)
})

/** One line per problem: `key.path: what is wrong, got <value>`. */
export const describeIssue = (issue: SchemaIssue.Issue, input: unknown): Array<string> =>
  formatter(issue).issues.map(({ path, message: raw }) => {
    let message = raw
    const keys = (path ?? []).map((p) => (typeof p === "object" && p !== null && "key" in p ? (p as { key: PropertyKey }).key : p)) as Array<PropertyKey>
    const where = keys.length === 0 ? "(top level)" : formatKeyPath(keys)
    if (message.startsWith(UNKNOWN_KEY)) {
      const valid = JSON.parse(message.slice(UNKNOWN_KEY.length)) as Array<string>
      const key = String(keys[keys.length - 1])
      return `${where}: unknown key${didYouMean(key, valid)}; valid keys: ${valid.join(", ")}`
    }
    // JSON has no undefined: "number | undefined" (an optional key) reads better as "number".
    message = message.replaceAll(" | undefined", "")
    const at = valueAt(input, keys)
    const got = at.found && !/\bgot\b/.test(message) && message !== "Missing key" ? `, got ${show(at.value)}` : ""
    return `${where}: ${message}${got}`
  })

const decodeOptions = { onExcessProperty: "error", errors: "all" } as const

/** Decodes already-parsed JSON; `file` names the source in the error. */
export const decodeConfig = <S extends Schema.Top & { readonly DecodingServices: never }>(schema: S, input: unknown, file: string): S["Type"] => {
  const r = Schema.decodeUnknownExit(schema, decodeOptions)(input)
  if (r._tag === "Success") return r.value
  const error = r.cause.reasons.find((x) => x._tag === "Fail")
  const issue = error && Schema.isSchemaError(error.error) ? error.error.issue : undefined
  const lines = issue ? describeIssue(issue, input) : [String(r.cause)]
  throw new ConfigFileError({ file, message: `${file}: ${lines.join("; ")}` })
}

/** Reads, parses (JSON) and decodes a config file; throws ConfigFileError naming the file. */
export const readConfigFileSync = <S extends Schema.Top & { readonly DecodingServices: never }>(schema: S, file: string): S["Type"] => {
  let text: string
  try {
    text = readFileSync(file, "utf8")
  } catch (e) {
    throw new ConfigFileError({ file, message: `${file}: cannot read: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}` })
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (e) {
    throw new ConfigFileError({ file, message: `${file}: not valid JSON: ${(e as Error).message}` })
  }
  return decodeConfig(schema, parsed, file)
}

export const readConfigFile = <S extends Schema.Top & { readonly DecodingServices: never }>(schema: S, file: string): Effect.Effect<S["Type"], ConfigFileError> =>
  Effect.try({ try: () => readConfigFileSync(schema, file), catch: (e) => (e instanceof ConfigFileError ? e : new ConfigFileError({ file, message: `${file}: ${String(e)}` })) })
