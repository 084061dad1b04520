import { Console, Effect, Option } from "effect"
import { kafkaContext } from "../../pipelines/kafka/runtime.ts"
import type { TopicsArgs } from "../flags/topics.ts"
import { reportAnyFailure } from "../common.ts"
import { kafkaSettingsOf } from "../flags/kafka.ts"

const table = (head: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (r: ReadonlyArray<string>) => r.map((c, i) => (i === 0 || i === 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ")
  return [line(head), ...rows.map(line)].join("\n")
}

export const topicsHandler = (kafka: TopicsArgs) =>
  Effect.gen(function*() {
    const none = Option.none()
    const settings = yield* kafkaSettingsOf({ ...kafka, registry: none, registryUsername: none, registryPassword: none, topicPartitions: none, replication: none })
    yield* Effect.scoped(Effect.gen(function*() {
      const ctx = yield* kafkaContext(settings)
      const { rows, groups } = yield* Effect.tryPromise({
        try: async () => {
          const topics = [...(await ctx.transport.listTopics())].filter((t) => !t.startsWith("__")).sort()
          const groups = [...(await ctx.transport.listGroups())].sort()
          const rows: Array<Array<string>> = []
          // One request per topic and one per group (not per pair): clusters have many of both.
          const ends = new Map(await Promise.all(topics.map(async (t) => [t, await ctx.transport.topicOffsets(t)] as const)))
          const committedBy = new Map(await Promise.all(groups.map(async (g) => [g, await ctx.transport.groupOffsets(g, topics)] as const)))
          for (const topic of topics) {
            const offsets = ends.get(topic)!
            const end = offsets.reduce((n, p) => n + BigInt(p.high) - BigInt(p.low), 0n)
            rows.push([topic, "", String(offsets.length), String(end), "", ""])
            for (const group of groups) {
              const mine = committedBy.get(group)!.filter((o) => o.topic === topic)
              if (mine.every((o) => BigInt(o.offset) < 0n)) continue
              let lag = 0n
              let committed = 0n
              for (const p of offsets) {
                const c = BigInt(mine.find((o) => o.partition === p.partition)?.offset ?? "-1")
                lag += c < 0n ? BigInt(p.end) - BigInt(p.low) : BigInt(p.end) - c
                committed += c < 0n ? 0n : c
              }
              rows.push([`  ${topic}`, group, "", "", String(committed), String(lag)])
            }
          }
          return { rows, groups }
        },
        catch: (e) => new Error(`cannot read the cluster's topics: ${e instanceof Error ? e.message : String(e)}`)
      })
      yield* Console.log(table(["topic", "consumer group", "partitions", "records", "committed", "lag"], rows))
      yield* Console.error(`${rows.filter((r) => r[1] === "").length} topics, ${groups.length} consumer groups`)
    }))
  }).pipe(Effect.catch(reportAnyFailure))
