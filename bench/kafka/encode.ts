// bench/kafka/encode.ts: what encoding a stage's output costs, one record at a time, without a
// broker: `JSON.stringify` + its UTF-8 written into the arena (FramedArena.write, serde's encoder
// before session 11) against the writer compiled from the Schema (FramedArena.writeWith), on the
// records the benches' mapping stage makes (`{ ...s, score: 1 - s.score }` of a parsed Score).
// Rounds alternate the two; the first two rounds are left out as warm-up; ns a record, best and
// median of the rest.
//
//   node --import tsx bench/kafka/encode.ts [records] [rounds]
import type { Schema } from "effect"
import { compileJsonWriter } from "../../pipelines/kafka/compiled-encoder.ts"
import { FramedArena } from "../../pipelines/kafka/serde.ts"
import { Score } from "../../schemas/evaluation.ts"
import { benchScore } from "./records.ts"

const N = Number(process.argv[2] ?? 100000)
const ROUNDS = Number(process.argv[3] ?? 12)

const writer = compileJsonWriter(Score as unknown as Schema.Top)
if (!writer) throw new Error("Score does not compile")
const parsed: ReadonlyArray<Score> = Array.from({ length: N }, (_, i) =>
  JSON.parse(JSON.stringify(benchScore(i))))
const outputs = parsed.map((s) => ({ ...s, score: 1 - s.score }))

const arena = new FramedArena()
// Both paths write the same bytes (else the comparison would mean nothing).
for (const o of outputs.slice(0, 1000)) {
  if (!arena.writeWith(1, writer, o)!.toBuffer().equals(arena.write(1, JSON.stringify(o)).toBuffer())) throw new Error("the two encoders differ")
}

const paths = {
  "JSON.stringify + write": () => {
    let bytes = 0
    for (const o of outputs) bytes += arena.write(1, JSON.stringify(o)).length
    return bytes
  },
  "compiled writer": () => {
    let bytes = 0
    for (const o of outputs) bytes += arena.writeWith(1, writer, o)!.length
    return bytes
  }
}
const times = new Map<string, Array<number>>()
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, run] of Object.entries(paths)) {
    const t0 = process.hrtime.bigint()
    run()
    const ns = Number(process.hrtime.bigint() - t0) / N
    if (r >= 2) times.set(name, [...(times.get(name) ?? []), ns])
  }
}
for (const [name, ns] of times) {
  const sorted = [...ns].sort((a, b) => a - b)
  console.log(`${name.padEnd(24)} best ${sorted[0]!.toFixed(0)} ns, median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(0)} ns a record`)
}
