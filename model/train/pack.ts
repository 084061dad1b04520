/**
 * Packs tokenized documents into sequences of exactly `length` tokens, documents joined by the
 * end-of-text token, as DAPT pipelines do; the tail shorter than one sequence is dropped.
 */
export const packTokens = (docs: ReadonlyArray<ReadonlyArray<number>>, length: number, eos: number): Array<Array<number>> => {
  const stream = docs.flatMap((d) => [...d, eos])
  const out: Array<Array<number>> = []
  for (let i = 0; i + length <= stream.length; i += length) out.push(stream.slice(i, i + length))
  return out
}
