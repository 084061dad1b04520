/**
 * bench/kafka/decode.ts: what a consumer pays per record in fleuve's own code, in one process,
 * interleaved, the minimum of many repetitions (robust to a loaded machine): serde.decode awaited
 * record by record (what stages did before issue 23) against serde.decodeBatch, JSON.parse alone,
 * the validators alone (the Effect Schema decoder vs the compiled fast path), and a record's bytes
 * to its checked value by the compiled reader (compiled-reader.ts, what a stage runs) against
 * JSON.parse of its UTF-8 text then the compiled validator.
 *
 *   FLEUVE_KAFKA_PORT=… FLEUVE_REGISTRY_PORT=… node --import tsx bench/kafka/decode.ts
 *
 * Needs the registry of scripts/services/kafka.sh (the serde registers the Score schema).
 */
import { Effect, Schema } from "effect"
import { compileJsonReader } from "../../pipelines/kafka/compiled-reader.ts"
import { compileValidator } from "../../pipelines/kafka/compiled-validator.ts"
import { makeSerde, recordType } from "../../pipelines/kafka/serde.ts"
import { DEFAULT_BROKERS, DEFAULT_REGISTRY } from "../../pipelines/kafka/settings.ts"
import { Score } from "../../schemas/evaluation.ts"
import { benchScore } from "./records.ts"

const serde = makeSerde({ brokers: [DEFAULT_BROKERS], clientId: "bench-decode", ssl: false, registryUrl: DEFAULT_REGISTRY, partitions: 3, replicationFactor: 1, maxRecordBytes: 1 << 20 })
const score = recordType("Score")
await Effect.runPromise(serde.prepare([score]))
const N = 20000
const bufs = Array.from({ length: N }, (_, i) =>
  serde.encode(score, benchScore(i)))
const effect = Schema.decodeUnknownExit(Score)
const fast = compileValidator(Score as Schema.Top)!
const reader = compileJsonReader(Score as Schema.Top)!
const parsed = bufs.map((b) => JSON.parse(b.subarray(5).toString("utf8")))
const best = { before: Infinity, batch: Infinity, parse: Infinity, effect: Infinity, compiled: Infinity, reader: Infinity, parseValidate: Infinity }
const time = async (k: keyof typeof best, f: () => unknown) => {
  const t0 = performance.now()
  await f()
  best[k] = Math.min(best[k], performance.now() - t0)
}
for (let r = 0; r < 40; r++) {
  await time("before", async () => { for (const b of bufs) await serde.decode(score, b) })
  await time("batch", () => serde.decodeBatch(score, bufs))
  await time("parse", () => { for (const b of bufs) JSON.parse(b.subarray(5).toString("utf8")) })
  await time("effect", () => { for (const j of parsed) effect(j) })
  await time("compiled", () => { for (const j of parsed) fast(j) })
  await time("reader", () => { for (const b of bufs) if (reader(b, 5, b.length) === undefined) throw new Error("the reader declined a Score") })
  await time("parseValidate", () => { for (const b of bufs) if (!fast(JSON.parse(b.subarray(5).toString("utf8")))) throw new Error("invalid") })
}
const us = (ms: number) => `${((ms * 1000) / N).toFixed(2)} µs`
console.log(`per Score record (${N} records, minimum of 40 rounds):`)
console.log(`  decode, serde.decode awaited per record:            ${us(best.before)}`)
console.log(`  decode, serde.decodeBatch:                          ${us(best.batch)}`)
console.log(`  JSON.parse alone:                                   ${us(best.parse)}`)
console.log(`  validation, Effect Schema decoder:                  ${us(best.effect)}`)
console.log(`  validation, compiled fast path:                     ${us(best.compiled)}`)
console.log(`  bytes to a checked value, compiled reader:          ${us(best.reader)}`)
console.log(`  bytes to a checked value, JSON.parse + compiled:    ${us(best.parseValidate)}`)
process.exit(0)
