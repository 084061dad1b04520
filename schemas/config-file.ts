/**
 * Decoding the files users hand fleuve to configure it (corpus thresholds, prompt sets, judge
 * rubrics, dataset manifests, report themes) through an Effect Schema, strictly: a wrong type, a
 * value out of range or a key the schema does not know is an error that names the file and the
 * key path (`quality.minWords`, `languages[0]`), with the nearest valid name for a misspelled key.
 * A typo is never silently ignored and a string is never taken for a list.
 *
 *   const config = yield* readConfigFile(CorpusConfig, path)       // Effect, fails with ConfigFileError
 *   const prompts = readConfigFileSync(PromptSet, path)            // throws ConfigFileError
 *
 * Errors read `file:line: key.path: problem`, one line per problem (YAML and JSON alike).
 */
import { Effect, Schema, SchemaAST, SchemaIssue } from "effect"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { didYouMean } from "../lib/nearest-name.ts"

/**
 * The YAML parser, loaded by the first config file read: a command given no config file (a
 * corpus run, most of them) does not pay its ~25 ms of module loading at start-up (issue 23).
 */
let yamlModule: typeof import("yaml") | undefined
const yaml = (): typeof import("yaml") => (yamlModule ??= createRequire(import.meta.url)("yaml") as typeof import("yaml"))

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

/** Each problem with the key path it is about: `key.path: what is wrong, got <value>`. */
export const describeIssues = (issue: SchemaIssue.Issue, input: unknown): Array<{ readonly keys: ReadonlyArray<PropertyKey>; readonly text: string }> =>
  formatter(issue).issues.map(({ path, message: raw }) => {
    let message = raw
    const keys = (path ?? []).map((p) => (typeof p === "object" && p !== null && "key" in p ? (p as { key: PropertyKey }).key : p)) as Array<PropertyKey>
    const where = keys.length === 0 ? "(top level)" : formatKeyPath(keys)
    if (message.startsWith(UNKNOWN_KEY)) {
      const valid = JSON.parse(message.slice(UNKNOWN_KEY.length)) as Array<string>
      const key = String(keys[keys.length - 1])
      return { keys, text: `${where}: unknown key${didYouMean(key, valid)}; valid keys: ${valid.join(", ")}` }
    }
    // JSON has no undefined: "number | undefined" (an optional key) reads better as "number".
    message = message.replaceAll(" | undefined", "")
    const at = valueAt(input, keys)
    const got = at.found && !/\bgot\b/.test(message) && message !== "Missing key" ? `, got ${show(at.value)}` : ""
    return { keys, text: `${where}: ${message}${got}` }
  })

/** One line per problem: `key.path: what is wrong, got <value>`. */
export const describeIssue = (issue: SchemaIssue.Issue, input: unknown): Array<string> => describeIssues(issue, input).map((d) => d.text)

const decodeOptions = { onExcessProperty: "error", errors: "all" } as const

/**
 * A config file's text, parsed, with a way back from a key path to its line: errors say
 * `file:line: key: problem`, as compilers do. YAML (.yaml, .yml) and JSON are both read through
 * the YAML parser's document model for the lines (JSON is YAML); JSON files are parsed as JSON.
 */
export interface ConfigSource {
  readonly file: string
  readonly text: string
  readonly value: unknown
  /** The 1-based line of the value at `keys` (or of its nearest present parent). */
  readonly lineOf: (keys: ReadonlyArray<PropertyKey>) => number | undefined
}

const isYaml = (file: string) => /\.ya?ml$/i.test(file)

const yamlDocument = (text: string) => {
  const { LineCounter, parseDocument } = yaml()
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false })
  return { doc, lineCounter }
}

const locator = (text: string) => {
  let parsed: ReturnType<typeof yamlDocument> | undefined
  return (keys: ReadonlyArray<PropertyKey>): number | undefined => {
    parsed ??= yamlDocument(text)
    const { doc, lineCounter } = parsed
    for (let n = keys.length; n >= 0; n--) {
      const node = doc.getIn(keys.slice(0, n) as Array<unknown>, true) as { range?: [number, number, number] } | undefined
      if (node && typeof node === "object" && node.range) return lineCounter.linePos(node.range[0]).line
    }
    return undefined
  }
}

/** Parses a config file's text (YAML by extension, else JSON); throws ConfigFileError naming file and line. */
export const parseConfigText = (text: string, file: string): ConfigSource => {
  if (isYaml(file)) {
    const { doc, lineCounter } = yamlDocument(text)
    const problem = doc.errors[0]
    if (problem) {
      const line = lineCounter.linePos(problem.pos[0]).line
      throw new ConfigFileError({ file, message: `${file}:${line}: not valid YAML: ${problem.message.split("\n")[0]}` })
    }
    let value: unknown
    try {
      value = doc.toJS({ maxAliasCount: 100 })
    } catch (e) {
      // e.g. an alias bomb: the parser refuses to expand it
      throw new ConfigFileError({ file, message: `${file}: not usable YAML: ${(e as Error).message}` })
    }
    return { file, text, value, lineOf: locator(text) }
  }
  try {
    return { file, text, value: JSON.parse(text), lineOf: locator(text) }
  } catch (e) {
    throw new ConfigFileError({ file, message: `${file}: not valid JSON: ${(e as Error).message}` })
  }
}

/** `file:line: key: problem` (the line when it is known). */
export const formatProblem = (source: Pick<ConfigSource, "file" | "lineOf"> | string, keys: ReadonlyArray<PropertyKey>, text: string): string => {
  if (typeof source === "string") return `${source}: ${text}`
  const line = source.lineOf(keys)
  return `${source.file}${line === undefined ? "" : `:${line}`}: ${text}`
}

/** Decodes already-parsed input; `source` names the file (and, given a ConfigSource, each problem's line) in the error. */
export const decodeConfig = <S extends Schema.Top & { readonly DecodingServices: never }>(schema: S, input: unknown, source: string | ConfigSource): S["Type"] => {
  const file = typeof source === "string" ? source : source.file
  const r = Schema.decodeUnknownExit(schema, decodeOptions)(input)
  if (r._tag === "Success") return r.value
  const error = r.cause.reasons.find((x) => x._tag === "Fail")
  const issue = error && Schema.isSchemaError(error.error) ? error.error.issue : undefined
  if (!issue) throw new ConfigFileError({ file, message: `${file}: ${String(r.cause)}` })
  const problems = describeIssues(issue, input)
  // Without lines: one line, problems joined; with lines: one `file:line: ...` line per problem.
  const message = typeof source === "string"
    ? `${file}: ${problems.map((p) => p.text).join("; ")}`
    : problems.map((p) => formatProblem(source, p.keys, p.text)).join("\n")
  throw new ConfigFileError({ file, message })
}

/** Reads a config file's text; throws ConfigFileError naming the file. */
export const readConfigSource = (file: string): ConfigSource => {
  let text: string
  try {
    text = readFileSync(file, "utf8")
  } catch (e) {
    throw new ConfigFileError({ file, message: `${file}: cannot read: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}` })
  }
  return parseConfigText(text, file)
}

/** Reads, parses (YAML or JSON) and decodes a config file; throws ConfigFileError naming the file and line. */
export const readConfigFileSync = <S extends Schema.Top & { readonly DecodingServices: never }>(schema: S, file: string): S["Type"] => {
  const source = readConfigSource(file)
  return decodeConfig(schema, source.value, source)
}

export const readConfigFile = <S extends Schema.Top & { readonly DecodingServices: never }>(schema: S, file: string): Effect.Effect<S["Type"], ConfigFileError> =>
  Effect.try({ try: () => readConfigFileSync(schema, file), catch: (e) => (e instanceof ConfigFileError ? e : new ConfigFileError({ file, message: `${file}: ${String(e)}` })) })
