import { createRequire } from "node:module"
import { homedir } from "node:os"
import { join } from "node:path"

/**
 * Finds the librdkafka-based client, `@confluentinc/kafka-javascript`. It is not a dependency in
 * package.json: its npm install step downloads a prebuilt binary (or zlib/OpenSSL sources) from
 * hosts these machines cannot reach, so scripts/setup/55-rdkafka.sh builds it from the sources in
 * the npm package, linked against the system's libraries, into a cache folder outside the checkout.
 * Only the types this project uses are declared here (its native API, not its KafkaJS layer).
 */

export const RDKAFKA_VERSION = "1.10.1"

/** Where scripts/setup/55-rdkafka.sh builds it: $FLEUVE_RDKAFKA_DIR, else ~/.cache/fleuve/rdkafka-<version>. */
export const rdkafkaDir = () =>
  process.env.FLEUVE_RDKAFKA_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "fleuve", `rdkafka-${RDKAFKA_VERSION}`)

export interface RdError extends Error {
  readonly code: number
  readonly isFatal?: boolean
  readonly isRetriable?: boolean
  readonly isTxnRequiresAbort?: boolean
}

export interface RdMessage {
  readonly value: Buffer | null
  readonly key?: Buffer | null
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly timestamp?: number
  readonly headers?: ReadonlyArray<Record<string, Buffer | string>>
}

export interface RdTopicPartition {
  readonly topic: string
  readonly partition: number
  readonly offset?: number
}

type Callback = (err: RdError | null | undefined) => void

interface RdClient {
  connect(options: { timeout?: number }, cb: (err: RdError | null) => void): void
  disconnect(cb: (err: RdError | null) => void): void
  on(event: string, listener: (...args: Array<any>) => void): void
  isConnected(): boolean
}

export interface RdProducer extends RdClient {
  produce(topic: string, partition: number | null, value: Buffer, key: string | null, timestamp: number | null, opaque: unknown, headers?: ReadonlyArray<Record<string, string>>): void
  setPollInBackground(on: boolean): void
  flush(timeout: number, cb: Callback): void
  initTransactions(timeout: number, cb: Callback): void
  beginTransaction(cb: Callback): void
  commitTransaction(timeout: number, cb: Callback): void
  abortTransaction(timeout: number, cb: Callback): void
  sendOffsetsToTransaction(offsets: ReadonlyArray<RdTopicPartition>, consumer: RdConsumer, timeout: number, cb: Callback): void
}

export interface RdConsumer extends RdClient {
  subscribe(topics: ReadonlyArray<string>): void
  consume(n: number, cb: (err: RdError | null, messages: ReadonlyArray<RdMessage>) => void): void
  setDefaultConsumeTimeout(ms: number): void
  setDefaultIsTimeoutOnlyForFirstMessage(on: boolean): void
  assign(assignment: ReadonlyArray<RdTopicPartition>): void
  unassign(): void
  assignments(): ReadonlyArray<RdTopicPartition>
  position(toppars?: ReadonlyArray<RdTopicPartition>): ReadonlyArray<RdTopicPartition>
  commitCb(toppars: ReadonlyArray<RdTopicPartition>, cb: Callback): void
}

export interface RdKafkaModule {
  readonly librdkafkaVersion: string
  readonly Producer: new(conf: Record<string, unknown>, topicConf?: Record<string, unknown>) => RdProducer
  readonly KafkaConsumer: new(conf: Record<string, unknown>, topicConf?: Record<string, unknown>) => RdConsumer
}

export class RdkafkaUnavailable extends Error {}

let loaded: RdKafkaModule | undefined

/** The module: from the project's node_modules if someone installed it there, else the setup script's build. */
export const loadRdkafka = (): RdKafkaModule => {
  if (loaded) return loaded
  const attempts: Array<string> = []
  for (const from of [import.meta.url, join(rdkafkaDir(), "package.json")]) {
    try {
      loaded = createRequire(from)("@confluentinc/kafka-javascript") as RdKafkaModule
      return loaded
    } catch (e) {
      attempts.push(e instanceof Error ? e.message.split("\n")[0]! : String(e))
    }
  }
  throw new RdkafkaUnavailable(
    `the rdkafka Kafka client (@confluentinc/kafka-javascript ${RDKAFKA_VERSION}) is not built here: run \`bash scripts/setup/55-rdkafka.sh\` (builds it into ${rdkafkaDir()}), or use --kafka-client kafkajs (${attempts.at(-1)})`
  )
}

export const rdkafkaAvailable = (): boolean => {
  try {
    loadRdkafka()
    return true
  } catch {
    return false
  }
}
