import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers"
import { existsSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { ByteLevelBpe, byteLevelBpeSpecOf } from "./byte-level-bpe.ts"

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
  const json = JSON.parse(readFileSync(jsonPath, "utf8"))
  const added: Array<{ id: number; content: string }> = json.added_tokens ?? []
  const eos = eosOf(added, config)
  const vocabSize = Math.max(Object.keys(json.model?.vocab ?? {}).length, ...added.map((t) => t.id + 1))
  // Byte-level BPE (GPT-2, Qwen, Llama 3) has an exact fast path; anything else goes through
  // @huggingface/tokenizers.
  const spec = byteLevelBpeSpecOf(json)
  if (spec) {
    const bpe = new ByteLevelBpe(spec)
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
  const text = readFileSync(jsonPath, "utf8")
  const span = topLevelValue(text, "added_tokens")
  if (span === undefined) return loadTokenizer(path)
  const added = JSON.parse(text.slice(span[0], span[1])) as Array<{ id: number; content: string }>
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
