// The V8 flags every `fleuve` process starts with: bin/fleuve.mjs's first line passes them to node
// (test/cli/node-flags.test.ts checks the two agree), and the Kafka benchmarks re-run themselves
// with them (bench/kafka/product-flags.ts), so what they time is what `fleuve` runs.
//
// --max-semi-space-size=64 (MB; V8's default is 16 on 64-bit hosts): a Kafka consumer decodes a
// whole fetch (4 MiB a partition, ~20,000 records) before its sink writes it, so every young-
// generation collection during a fetch finds thousands of live records and copies them, twice,
// then promotes them. With 64 MB the collections are four times rarer for the same live set: in
// bench/kafka/consume-cpu.ts (200,000 records decoded and validated, idle) garbage collection took
// 159–164 ms of CPU at 16 MB and 50–102 ms at 64, and the consumer at the broker read 22% more
// records a second (BENCHMARKS.md, Kafka, session 13). It cannot be
// set from inside a running process (v8.setFlagsFromString comes after the heap is configured).
// Its cost: a larger young generation at the peak (`fleuve demo`: the same time, 535 MB of peak RSS
// against 456 MB with V8's default; BENCHMARKS.md, Kafka, session 13).
export const NODE_FLAGS = ["--max-semi-space-size=64"]
