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
  const dir = statSync(path).isDirectory() ? path : undefined
  const jsonPath = dir ? join(dir, "tokenizer.json") : path
  const json = JSON.parse(readFileSync(jsonPath, "utf8"))
  const configPath = join(dir ?? jsonPath.replace(/[^/]*$/, ""), "tokenizer_config.json")
  const config = existsSync(configPath) ? JSON.parse(readFileSync(configPath, "utf8")) : {}
  const added: Array<{ id: number; content: string }> = json.added_tokens ?? []
  const eosName = typeof config.eos_token === "string" ? config.eos_token : config.eos_token?.content
  const eos = added.find((t) => t.content === (eosName ?? "<|endoftext|>"))
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
