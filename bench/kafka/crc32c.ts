// bench/kafka/crc32c.ts: kafkajs' byte-at-a-time CRC32C against pipelines/kafka/kafkajs-patches.ts'
// slicing-by-8 and @node-rs/crc32's native one, on a 1 MiB buffer (the size of a produce request's record batches), interleaved,
// best of 20 rounds each. `node --import tsx bench/kafka/crc32c.ts`
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { crc32cNative, crc32cSliced as crc32c } from "../../pipelines/kafka/kafkajs-patches.ts"

const require = createRequire(import.meta.url)
const module = { exports: undefined as unknown }
new Function("module", "exports", "require", readFileSync(require.resolve("kafkajs/src/protocol/recordBatch/crc32C/crc32C"), "utf8"))(module, module.exports, require)
const shipped = module.exports as (b: Buffer) => number
const buf = Buffer.from(Array.from({ length: 1 << 20 }, (_, i) => (i * 2654435761) >>> 24))
if (shipped(buf) >>> 0 !== crc32c(buf)) throw new Error("the two CRCs differ")
const best = { shipped: Infinity, sliced: Infinity, native: Infinity }
if (crc32cNative && crc32cNative(buf) !== crc32c(buf)) throw new Error("native and sliced CRCs differ")
for (let r = 0; r < 20; r++) {
  let t = performance.now()
  shipped(buf)
  best.shipped = Math.min(best.shipped, performance.now() - t)
  t = performance.now()
  crc32c(buf)
  best.sliced = Math.min(best.sliced, performance.now() - t)
  if (!crc32cNative) continue
  t = performance.now()
  crc32cNative(buf)
  best.native = Math.min(best.native, performance.now() - t)
}
const ns = (ms: number) => ((ms * 1e6) / buf.length).toFixed(2)
console.log(`CRC32C of 1 MiB, best of 20: kafkajs ${ns(best.shipped)} ns/byte, slicing-by-8 ${ns(best.sliced)} ns/byte (${(best.shipped / best.sliced).toFixed(1)}x), native (@node-rs/crc32) ${crc32cNative ? ns(best.native) : "not loaded"} ns/byte`)
