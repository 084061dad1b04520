// Modules rather than the "effect" index: the CLI loads this file for its Kafka flags, --help included.
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { redact, splitUrlCredentials } from "../../lib/redact.ts"

/**
 * How to reach the cluster. Secrets are `Redacted`: they print as `<redacted>` in logs, errors and
 * `JSON.stringify`, and are unwrapped only where a client needs them.
 */
export interface KafkaSettings {
  readonly brokers: ReadonlyArray<string>
  readonly clientId: string
  readonly ssl: boolean
  readonly sasl?: {
    readonly mechanism: "plain" | "scram-sha-256" | "scram-sha-512"
    readonly username: string
    readonly password: Redacted.Redacted<string>
  }
  readonly registryUrl: string
  readonly registryAuth?: { readonly username: string; readonly password: Redacted.Redacted<string> }
  /** Partitions and replication of the topics the runtime creates. */
  readonly partitions: number
  readonly replicationFactor: number
  /** Records larger than this (encoded) are dead letters, never processed. */
  readonly maxRecordBytes: number
  /** A worker that stops heartbeating for this long loses its partitions to the others. */
  readonly sessionTimeoutMs?: number
  /** Retries of one Kafka request before the client gives up (250 ms doubling to 5 s: 15 ≈ a minute). */
  readonly clientRetries?: number
  /** Attempts a source's worker makes (pauses of 1, 2, 4, then 10 s) before it fails: 8 ≈ a minute. */
  readonly sourceAttempts?: number
  /**
   * Most input records a stage handles in one transaction (a fetched batch is cut into pieces of
   * this many, each committed with its position); unlimited when absent. Smaller pieces mean less
   * work redone after a crash and shorter transactions.
   */
  readonly transactionRecords?: number
  /**
   * Most bytes a consumer fetches from one partition at a time (FETCH_BYTES by default). A stage
   * handles a fetch in one transaction (unless `transactionRecords` cuts it): bigger fetches mean
   * fewer, bigger transactions, each with its fixed round trips to the coordinators.
   */
  readonly fetchBytes?: number
  /** The client library: kafkajs (default, pure JavaScript) or rdkafka (librdkafka, built by scripts/setup/55-rdkafka.sh). */
  readonly client?: KafkaClient
}

/**
 * 4 MiB a partition: a stage handles a fetch in one transaction, and 4 MiB cut its transactions
 * from 24 to 7–8 per 100,000 records of 200 bytes and its time in them by 30–50% (BENCHMARKS.md,
 * "## Kafka", session 4). Session 4 went back to 1 MiB after the dedup takeover test lost the
 * standby's decisions at 4 MiB. The failing runs' logs point at the run's "caught up", which
 * measured lag against the last stable offset: a SIGKILLed worker's open transaction on the journal
 * topic hid everything committed after it, so the journal's lag read zero (lag.ts now measures
 * against the log end; test/pipelines/kafka/lag.test.ts); the fetch size presumably only changed
 * the timing (not reproduced end to end: BENCHMARKS.md, session 5).
 * FLEUVE_KAFKA_FETCH_BYTES changes it.
 * Produce requests stay cut at 512 KiB (kafkajs-transport.ts), under the broker's 1 MB
 * message.max.bytes.
 */
export const FETCH_BYTES = 4 * 1024 * 1024

export const KAFKA_CLIENTS = ["kafkajs", "rdkafka"] as const
export type KafkaClient = (typeof KAFKA_CLIENTS)[number]

// The ports scripts/services/kafka.sh starts the local broker and registry on (FLEUVE_KAFKA_PORT,
// FLEUVE_REGISTRY_PORT), so tests and benches reach the services that script started.
export const DEFAULT_BROKERS = `127.0.0.1:${process.env.FLEUVE_KAFKA_PORT ?? "19092"}`
export const DEFAULT_REGISTRY = `http://127.0.0.1:${process.env.FLEUVE_REGISTRY_PORT ?? "18081"}/apis/ccompat/v7`

const optionalString = (name: string) => Config.option(Config.String(name))

/**
 * Settings from the environment: FLEUVE_KAFKA_BROKERS (comma-separated), FLEUVE_SCHEMA_REGISTRY_URL,
 * FLEUVE_KAFKA_SSL, FLEUVE_KAFKA_SASL_MECHANISM / _USERNAME / _PASSWORD,
 * FLEUVE_SCHEMA_REGISTRY_USERNAME / _PASSWORD, FLEUVE_KAFKA_PARTITIONS, FLEUVE_KAFKA_REPLICATION,
 * FLEUVE_KAFKA_MAX_RECORD_BYTES, FLEUVE_KAFKA_SESSION_TIMEOUT_MS, FLEUVE_KAFKA_CLIENT_RETRIES,
 * FLEUVE_KAFKA_SOURCE_ATTEMPTS, FLEUVE_KAFKA_TRANSACTION_RECORDS, FLEUVE_KAFKA_FETCH_BYTES, FLEUVE_KAFKA_CLIENT. Flags override them
 * (see cli/kafka-flags.ts).
 */
export const kafkaSettingsConfig = Config.all({
  brokers: Config.String("FLEUVE_KAFKA_BROKERS").pipe(Config.withDefault(DEFAULT_BROKERS)),
  clientId: Config.String("FLEUVE_KAFKA_CLIENT_ID").pipe(Config.withDefault("fleuve")),
  ssl: Config.Boolean("FLEUVE_KAFKA_SSL").pipe(Config.withDefault(false)),
  saslMechanism: Config.option(Config.Literals(["plain", "scram-sha-256", "scram-sha-512"], "FLEUVE_KAFKA_SASL_MECHANISM")),
  saslUsername: optionalString("FLEUVE_KAFKA_SASL_USERNAME"),
  saslPassword: Config.option(Config.Redacted("FLEUVE_KAFKA_SASL_PASSWORD")),
  registryUrl: Config.String("FLEUVE_SCHEMA_REGISTRY_URL").pipe(Config.withDefault(DEFAULT_REGISTRY)),
  registryUsername: optionalString("FLEUVE_SCHEMA_REGISTRY_USERNAME"),
  registryPassword: Config.option(Config.Redacted("FLEUVE_SCHEMA_REGISTRY_PASSWORD")),
  partitions: Config.Int("FLEUVE_KAFKA_PARTITIONS").pipe(Config.withDefault(3)),
  replicationFactor: Config.Int("FLEUVE_KAFKA_REPLICATION").pipe(Config.withDefault(1)),
  maxRecordBytes: Config.Int("FLEUVE_KAFKA_MAX_RECORD_BYTES").pipe(Config.withDefault(256 * 1024)),
  sessionTimeoutMs: Config.Int("FLEUVE_KAFKA_SESSION_TIMEOUT_MS").pipe(Config.withDefault(10000)),
  clientRetries: Config.Int("FLEUVE_KAFKA_CLIENT_RETRIES").pipe(Config.withDefault(15)),
  sourceAttempts: Config.Int("FLEUVE_KAFKA_SOURCE_ATTEMPTS").pipe(Config.withDefault(8)),
  transactionRecords: Config.option(Config.Int("FLEUVE_KAFKA_TRANSACTION_RECORDS")),
  fetchBytes: Config.Int("FLEUVE_KAFKA_FETCH_BYTES").pipe(Config.withDefault(FETCH_BYTES)),
  client: Config.Literals(KAFKA_CLIENTS, "FLEUVE_KAFKA_CLIENT").pipe(Config.withDefault("kafkajs" as KafkaClient))
})

export type KafkaSettingsInput = typeof kafkaSettingsConfig extends Config.Config<infer A> ? A : never

export const settingsFrom = (c: KafkaSettingsInput): KafkaSettings => {
  const sasl = Option.isSome(c.saslMechanism) && Option.isSome(c.saslUsername) && Option.isSome(c.saslPassword)
    ? { mechanism: c.saslMechanism.value, username: c.saslUsername.value, password: c.saslPassword.value }
    : undefined
  // Credentials in the registry's URL become its basic authentication (explicit flags and
  // variables win): the URL the settings keep, print and pass around holds no secret.
  const fromUrl = splitUrlCredentials(c.registryUrl)
  const registryAuth = Option.isSome(c.registryUsername) && Option.isSome(c.registryPassword)
    ? { username: c.registryUsername.value, password: c.registryPassword.value }
    : fromUrl.username !== undefined
    ? { username: fromUrl.username, password: Redacted.make(fromUrl.password ?? "") }
    : undefined
  return {
    brokers: c.brokers.split(",").map((b) => b.trim()).filter((b) => b.length > 0),
    clientId: c.clientId,
    ssl: c.ssl,
    ...(sasl ? { sasl } : {}),
    registryUrl: fromUrl.url.replace(/\/+$/, ""),
    ...(registryAuth ? { registryAuth } : {}),
    partitions: Math.max(1, c.partitions),
    replicationFactor: Math.max(1, c.replicationFactor),
    maxRecordBytes: c.maxRecordBytes,
    sessionTimeoutMs: c.sessionTimeoutMs,
    clientRetries: Math.max(0, c.clientRetries),
    sourceAttempts: Math.max(1, c.sourceAttempts),
    ...(Option.isSome(c.transactionRecords) ? { transactionRecords: Math.max(1, c.transactionRecords.value) } : {}),
    fetchBytes: Math.max(64 * 1024, c.fetchBytes),
    client: c.client
  }
}

/** Settings from the environment alone (workers, tests, benchmarks). */
export const kafkaSettingsFromEnv: Effect.Effect<KafkaSettings, Config.ConfigError> = Effect.gen(function*() {
  return settingsFrom(yield* kafkaSettingsConfig)
})

/** A one-line description that is safe to log: no secrets, only whether they are set. */
export const describeSettings = (s: KafkaSettings): string =>
  redact(`${s.client === "rdkafka" ? "rdkafka, " : ""}brokers ${s.brokers.join(",")}${s.ssl ? " (ssl)" : ""}${s.sasl ? ` sasl ${s.sasl.mechanism} user ${s.sasl.username}` : ""}, registry ${s.registryUrl}${s.registryAuth ? ` (user ${s.registryAuth.username})` : ""}`)
