/**
 * bench/kafka/json-cost.ts: what one bench record's JSON costs on this JavaScript engine, alone,
 * with no Kafka: a consumer's floor (the record's bytes to text, `JSON.parse`) and a mapping
 * stage's second one (`JSON.stringify`, its UTF-8 bytes). The record is the benches' Score (records.ts, 195
 * bytes); 20,000 of them, the minimum of 60 rounds (robust to a loaded machine), µs a record.
 * Run it under each Node binary to compare engines:
 *
 *   node --import tsx bench/kafka/json-cost.ts
 *   /path/to/another/node --import tsx bench/kafka/json-cost.ts
 *
 * Why: ConsumerPerformance reads ~1.2 M records/s on the 2-core VM (~0.83 µs a record), so a
 * consumer at 0.8× of it has ~1.04 µs a record for its transport and its decoding together
 * (BENCHMARKS.md, Kafka, session 17).
 */
import { benchScore } from "./records.ts"

const N = 20000
const ROUNDS = 60
const records = Array.from({ length: N }, (_, i) => benchScore(i))
const bytes = records.map((r) => Buffer.from(JSON.stringify(r)))
const best = { text: Infinity, parse: Infinity, stringify: Infinity, stringifyBytes: Infinity }
let sink: unknown
const time = (k: keyof typeof best, f: () => void) => {
  const t0 = performance.now()
  f()
  best[k] = Math.min(best[k], performance.now() - t0)
}
for (let r = 0; r < ROUNDS; r++) {
  time("text", () => { for (const b of bytes) sink = b.toString("utf8") })
  time("parse", () => { for (const b of bytes) sink = JSON.parse(b.toString("utf8")) })
  time("stringify", () => { for (const o of records) sink = JSON.stringify(o) })
  time("stringifyBytes", () => { for (const o of records) sink = Buffer.from(JSON.stringify(o)) })
}
void sink
const us = (ms: number) => +((ms * 1000) / N).toFixed(3)
console.log(JSON.stringify({ kind: "json-cost", node: process.version, record_bytes: bytes[0]!.length, records: N, rounds: ROUNDS, us_a_record: { utf8_text: us(best.text), utf8_text_and_parse: us(best.parse), stringify: us(best.stringify), stringify_to_bytes: us(best.stringifyBytes) } }))
