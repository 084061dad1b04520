/**
 * What a corpus worker thread runs (pipelines/runtime/offload.ts bundles this module): the chain's
 * stateless steps for each document the clean stage is about to see (operators/corpus/analysis.ts).
 * Imports no Effect runtime, no warehouse and only the tokenizer of the model library.
 */
import { createHash } from "node:crypto"
import { analyseDocument, type AnalysisSettings, type DocumentAnalysis } from "../operators/corpus/analysis.ts"
import { type Language, LanguageIdentifier } from "../operators/corpus/language-id.ts"
import { type MinHashConfig, MinHasher } from "../operators/corpus/minhash.ts"
import { loadTokenizer } from "../model/tokenizer.ts"
import type { OffloadHandler } from "./runtime/offload.ts"

export interface CorpusWorkerInit {
  readonly settings: AnalysisSettings
  /** The language identifier's training texts (a worker bundle cannot find the files itself). */
  readonly training: Readonly<Record<Language, string>>
  readonly minhash: MinHashConfig
  /** tokenizer.json to tokenize with; absent: the main thread tokenizes. */
  readonly tokenizer?: string
}

export interface CorpusWorkerRequest {
  readonly text: string
  readonly knownHash?: string
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex")

export const makeHandler = (init: CorpusWorkerInit): OffloadHandler => {
  const identifier = new LanguageIdentifier(init.training)
  const hasher = new MinHasher(init.minhash)
  const tokenizer = init.tokenizer === undefined ? undefined : loadTokenizer(init.tokenizer)
  const encode = tokenizer ? tokenizer.encode : undefined
  return (requests) => {
    const transfer: Array<ArrayBuffer> = []
    const replies = (requests as ReadonlyArray<CorpusWorkerRequest>).map((r): DocumentAnalysis | undefined => {
      try {
        const a = analyseDocument(r.text, r.knownHash, init.settings, { identifier, hasher, sha256, ...(encode ? { encode } : {}) })
        if (a.ids) transfer.push(a.ids.buffer as ArrayBuffer)
        return a
      } catch {
        // The main thread computes this document itself and turns the error into a dead letter.
        return undefined
      }
    })
    return { replies, transfer }
  }
}
