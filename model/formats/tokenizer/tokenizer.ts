import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers"
import { createHash } from "node:crypto"
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { threadId } from "node:worker_threads"
import { ByteLevelBpe, type ByteLevelBpeSpec, type ByteLevelBpeTables, byteLevelBpeSpecOf, compactTables } from "./byte-level-bpe.ts"

/** What fleuve needs of a tokenizer: ids identical to Hugging Face `tokenizers`, and back. */
export interface TextTokenizer {
  readonly encode: (text: string) => Array<number>
  readonly decode: (ids: ReadonlyArray<number>) => string
  /** End-of-sequence id used to separate packed documents, when the tokenizer defines one. */
  readonly eosId: number | undefined
  readonly vocabSize: number
}

/**
 * Loads a Hugging Face `tokenizer.json` (a file, or a model folder holding it and, optionally,
 * `tokenizer_config.json`). No special tokens are added on encode: callers add EOS themselves.
 */
export const loadTokenizer = (path: string): TextTokenizer => {
  const { jsonPath, config } = filesOf(path)
  const cached = readCachedTables(jsonPath)
  if (cached) {
    const bpe = new ByteLevelBpe(cached.tables)
    return { encode: (text) => bpe.encode(text), decode: (ids) => bpe.decode(ids), eosId: eosOf(cached.tables.added, config)?.id, vocabSize: cached.vocabSize }
  }
  const json = JSON.parse(readFileSync(jsonPath, "utf8"))
  const added: Array<{ id: number; content: string }> = json.added_tokens ?? []
  const eos = eosOf(added, config)
  const vocabSize = Math.max(Object.keys(json.model?.vocab ?? {}).length, ...added.map((t) => t.id + 1))
  // Byte-level BPE (GPT-2, Qwen, Llama 3) has an exact fast path; anything else goes through
  // @huggingface/tokenizers.
  const spec = byteLevelBpeSpecOf(json)
  if (spec) {
    const bpe = new ByteLevelBpe(spec)
    writeCachedTables(jsonPath, spec, vocabSize)
    return { encode: (text) => bpe.encode(text), decode: (ids) => bpe.decode(ids), eosId: eos?.id, vocabSize }
  }
  const tokenizer = new HfTokenizer(json, config)
  return {
    encode: (text) => tokenizer.encode(text, { add_special_tokens: false }).ids,
    decode: (ids) => tokenizer.decode([...ids], { skip_special_tokens: false }),
    eosId: eos?.id,
    vocabSize
  }
}

const filesOf = (path: string) => {
  const dir = statSync(path).isDirectory() ? path : undefined
  const jsonPath = dir ? join(dir, "tokenizer.json") : path
  const configPath = join(dir ?? jsonPath.replace(/[^/]*$/, ""), "tokenizer_config.json")
  const config = existsSync(configPath) ? JSON.parse(readFileSync(configPath, "utf8")) : {}
  return { jsonPath, config }
}

const eosOf = (added: ReadonlyArray<{ id: number; content: string }>, config: { eos_token?: string | { content?: string } }) => {
  const eosName = typeof config.eos_token === "string" ? config.eos_token : config.eos_token?.content
  return added.find((t) => t.content === (eosName ?? "<|endoftext|>"))
}

/**
 * loadTokenizer, deferred: the EOS id is read at once from the file's `added_tokens` alone (a
 * few hundred bytes at the top of tokenizer.json: no parse of the 10 MB vocabulary), and the
 * vocabulary is loaded on the first encode, decode or vocabSize. The corpus chain's main thread
 * needs only the EOS id when worker threads tokenize. Falls back to the full load where the
 * file's top-level object has no `added_tokens`.
 */
export const deferredTokenizer = (path: string): TextTokenizer => {
  const { jsonPath, config } = filesOf(path)
  const added = addedTokensOf(jsonPath)
  if (added === undefined) return loadTokenizer(path)
  let loaded: TextTokenizer | undefined
  const load = () => (loaded ??= loadTokenizer(path))
  return {
    encode: (t) => load().encode(t),
    decode: (ids) => load().decode(ids),
    eosId: eosOf(added ?? [], config)?.id,
    get vocabSize() {
      return load().vocabSize
    }
  }
}

/**
 * The `added_tokens` of a tokenizer.json, read from the file's first 256 KiB where they end there
 * (they come before the vocabulary in the files Hugging Face writes): decoding all 11 MB of
 * Qwen3's file to find them cost the corpus chain ~50 ms of its start (issue 23). Else from the
 * whole file; undefined where the top-level object has none.
 */
const addedTokensOf = (jsonPath: string): Array<{ id: number; content: string }> | undefined => {
  const fd = openSync(jsonPath, "r")
  let prefix: string
  try {
    const buffer = Buffer.alloc(PREFIX_BYTES)
    prefix = buffer.toString("utf8", 0, readSync(fd, buffer, 0, PREFIX_BYTES, 0))
  } finally {
    closeSync(fd)
  }
  // A span that ends before the prefix does was read whole (a truncated value runs to the end).
  const early = topLevelValue(prefix, "added_tokens")
  const text = early !== undefined && early[1] < prefix.length ? prefix : readFileSync(jsonPath, "utf8")
  const span = text === prefix ? early : topLevelValue(text, "added_tokens")
  return span === undefined ? undefined : (JSON.parse(text.slice(span[0], span[1])) as Array<{ id: number; content: string }>)
}

const PREFIX_BYTES = 256 * 1024

/**
 * [start, end) of the value of `key` in the top-level JSON object of `text`, skipping the other
 * values without parsing them; undefined if there is no such key (or the text is not an object).
 */
export const topLevelValue = (text: string, key: string): [number, number] | undefined => {
  let i = text.indexOf("{")
  if (i < 0) return undefined
  i++
  const skipSpace = () => {
    while (i < text.length && (text[i] === " " || text[i] === "\n" || text[i] === "\r" || text[i] === "\t")) i++
  }
  const skipString = () => {
    i++
    while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1
    i++
  }
  const skipValue = () => {
    let depth = 0
    while (i < text.length) {
      const c = text[i]
      if (c === '"') {
        skipString()
        if (depth === 0) return
        continue
      }
      if (c === "{" || c === "[") depth++
      else if (c === "}" || c === "]") {
        if (depth === 0) return
        depth--
        if (depth === 0) {
          i++
          return
        }
      } else if (depth === 0 && c === ",") return
      i++
    }
  }
  while (i < text.length) {
    skipSpace()
    if (text[i] !== '"') return undefined
    const keyStart = i
    skipString()
    const name = JSON.parse(text.slice(keyStart, i)) as string
    skipSpace()
    if (text[i] !== ":") return undefined
    i++
    skipSpace()
    const start = i
    skipValue()
    if (name === key) return [start, i]
    skipSpace()
    if (text[i] !== ",") return undefined
    i++
  }
  return undefined
}

/**
 * A byte-level BPE tokenizer.json kept as plain lists (ByteLevelBpeTables) under the OS temporary
 * folder, one file per tokenizer path: a header line (JSON: the source's size and mtime, the
 * pattern, added tokens, counts), then the tokens in id order, one a line, and the merges as id
 * triples ("a b a+b"), one a line. Each
 * of the corpus chain's worker threads loads the tokenizer; from this file that takes ~0.2 s of
 * CPU instead of ~0.6 s. Valid while tokenizer.json has the size and mtime it had; any error
 * reads as a miss, and a failed write is ignored (the cache only saves time).
 */
const CACHE_VERSION = 2
export const tokenizerTablesFile = (jsonPath: string) => join(tmpdir(), "fleuve-tokenizers", `${createHash("sha256").update(resolve(jsonPath)).digest("hex").slice(0, 24)}.txt`)
interface TablesHeader {
  readonly version: number
  readonly size: number
  readonly mtimeMs: number
  readonly pattern: string
  readonly nfc: boolean
  readonly added: ReadonlyArray<{ id: number; content: string }>
  readonly tokens: number
  readonly merges: number
  readonly vocabSize: number
}

const readCachedTables = (jsonPath: string): { tables: ByteLevelBpeTables; vocabSize: number } | undefined => {
  try {
    const file = tokenizerTablesFile(jsonPath)
    if (!existsSync(file)) return undefined
    const text = readFileSync(file, "utf8")
    const headerEnd = text.indexOf("\n")
    const header = JSON.parse(text.slice(0, headerEnd)) as TablesHeader
    const source = statSync(jsonPath)
    if (header.version !== CACHE_VERSION || header.size !== source.size || header.mtimeMs !== source.mtimeMs) return undefined
    // The tokens: the first header.tokens lines; then the merges' ids, read without splitting.
    let at = headerEnd + 1
    const tokens = new Array<string>(header.tokens)
    for (let i = 0; i < header.tokens; i++) {
      const end = text.indexOf("\n", at)
      if (end < 0) return undefined
      tokens[i] = text.slice(at, end)
      at = end + 1
    }
    const merges = new Int32Array(header.merges * 3)
    let k = 0
    let n = -1
    for (let i = at; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c >= 48 && c <= 57) n = (n < 0 ? 0 : n * 10) + (c - 48)
      else if (n >= 0) {
        merges[k++] = n
        n = -1
      }
    }
    if (n >= 0) merges[k++] = n
    if (k !== merges.length) return undefined
    const tables: ByteLevelBpeTables = { tokens, merges, pattern: header.pattern, nfc: header.nfc, added: header.added }
    return { tables, vocabSize: header.vocabSize }
  } catch {
    return undefined
  }
}

const writeCachedTables = (jsonPath: string, spec: ByteLevelBpeSpec, vocabSize: number) => {
  try {
    const tables = compactTables(spec)
    if (!tables) return
    const source = statSync(jsonPath)
    const header: TablesHeader = { version: CACHE_VERSION, size: source.size, mtimeMs: source.mtimeMs, pattern: tables.pattern, nfc: tables.nfc, added: tables.added, tokens: tables.tokens.length, merges: tables.merges.length / 3, vocabSize }
    const file = tokenizerTablesFile(jsonPath)
    mkdirSync(join(file, ".."), { recursive: true })
    // Per process and thread: the corpus chain's workers may all write it at once.
    const tmp = `${file}.${process.pid}.${threadId}.tmp`
    const merges: Array<string> = []
    for (let i = 0; i < tables.merges.length; i += 3) merges.push(`${tables.merges[i]} ${tables.merges[i + 1]} ${tables.merges[i + 2]}`)
    writeFileSync(tmp, [JSON.stringify(header), ...tables.tokens, ...merges].join("\n"))
    renameSync(tmp, file)
  } catch {
    // Only costs the next load the full parse.
  }
}
