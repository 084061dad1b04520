import type { KafkaTransport } from "./transport.ts"

export interface PartitionLag {
  readonly topic: string
  readonly partition: number
  /**
   * Log end offset (high watermark), not the last stable offset read_committed readers stop at:
   * records committed behind another producer's open transaction (a SIGKILLed worker's, open until
   * its timeout) are still to be handled, so a group that read everything it can is not done.
   */
  readonly end: bigint
  /** The group's committed position; -1 when it has none. */
  readonly committed: bigint
  /** Records the group has yet to handle: end − committed (end − start when nothing is committed). */
  readonly lag: bigint
}

/** Lag of one consumer group on its topics, per partition. */
export const groupLag = async (transport: KafkaTransport, groupId: string, topics: ReadonlyArray<string>): Promise<ReadonlyArray<PartitionLag>> => {
  const committed = await transport.groupOffsets(groupId, topics)
  const out: Array<PartitionLag> = []
  for (const topic of topics) {
    for (const p of await transport.topicOffsets(topic)) {
      const c = BigInt(committed.find((o) => o.topic === topic && o.partition === p.partition)?.offset ?? "-1")
      const end = BigInt(p.end)
      out.push({ topic, partition: p.partition, end, committed: c, lag: c < 0n ? end - BigInt(p.low) : end - c })
    }
  }
  return out
}

export const totalLag = (lags: ReadonlyArray<PartitionLag>) => lags.reduce((n, l) => n + l.lag, 0n)
