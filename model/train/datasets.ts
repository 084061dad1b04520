import type { TextTokenizer } from "../formats/tokenizer/tokenizer.ts"
import { packTokens } from "./pack.ts"
import type { TrainingSequence } from "./trainer.ts"

/** DAPT data: documents tokenized, joined by end-of-text and cut into sequences of `length` tokens. */
export const packedTextSequences = (tokenizer: TextTokenizer, texts: ReadonlyArray<string>, length: number): Array<TrainingSequence> =>
  packTokens(texts.map((t) => tokenizer.encode(t)), length, tokenizer.eosId ?? 0).map((ids) => ({ ids }))

/**
 * Instruction data (QA training records): prompt + answer + end-of-text, where only the answer and
 * the end token are targets. Padded on the right to `length` (padding is no target); a record too
 * long loses prompt tokens on the left, never answer tokens.
 */
export const promptAnswerSequence = (tokenizer: TextTokenizer, prompt: string, answer: string, length: number): TrainingSequence => {
  const eos = tokenizer.eosId ?? 0
  let p = tokenizer.encode(prompt)
  const a = [...tokenizer.encode(answer), eos]
  if (a.length >= length) throw new Error(`answer has ${a.length} tokens with end-of-text, the sequence length is ${length}`)
  if (p.length + a.length > length) p = p.slice(p.length + a.length - length)
  const ids = [...p, ...a]
  const mask = [...p.map(() => 0), ...a.map(() => 1)]
  while (ids.length < length) {
    ids.push(eos)
    mask.push(0)
  }
  return { ids, targetMask: mask }
}
