import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import { Flag } from "effect/cli"
import { loadRdkafka } from "../../pipelines/kafka/rdkafka-module.ts"
import { KAFKA_CLIENTS, type KafkaClient, type KafkaSettings, kafkaSettingsConfig, settingsFrom } from "../../pipelines/kafka/settings.ts"
import { withDefaultSaid } from "./defaults.ts"

/**
 * Connection flags shared by the Kafka commands. Each falls back to its environment variable
 * (FLEUVE_KAFKA_BROKERS, FLEUVE_SCHEMA_REGISTRY_URL, ...); passwords are Redacted and never printed.
 */
export const kafkaFlags = {
  brokers: Flag.String("brokers").pipe(
    Flag.withDescription("Kafka bootstrap servers, comma-separated (default $FLEUVE_KAFKA_BROKERS, else 127.0.0.1 on $FLEUVE_KAFKA_PORT, 19092 unless set)"),
    Flag.optional
  ),
  registry: Flag.String("schema-registry").pipe(
    Flag.withDescription("Confluent-compatible schema registry URL (default $FLEUVE_SCHEMA_REGISTRY_URL, else http://127.0.0.1:PORT/apis/ccompat/v7 with PORT $FLEUVE_REGISTRY_PORT, 18081 unless set)"),
    Flag.optional
  ),
  ssl: Flag.Boolean("kafka-ssl").pipe(Flag.withDescription(withDefaultSaid("Connect to the brokers over TLS (or FLEUVE_KAFKA_SSL=true)", false)), Flag.withDefault(false)),
  saslMechanism: Flag.Literals("sasl-mechanism", ["plain", "scram-sha-256", "scram-sha-512"]).pipe(
    Flag.withDescription("SASL mechanism (or $FLEUVE_KAFKA_SASL_MECHANISM)"),
    Flag.optional
  ),
  saslUsername: Flag.String("sasl-username").pipe(Flag.withDescription("SASL user (or $FLEUVE_KAFKA_SASL_USERNAME)"), Flag.optional),
  saslPassword: Flag.Redacted("sasl-password").pipe(
    Flag.withDescription("SASL password (prefer $FLEUVE_KAFKA_SASL_PASSWORD: flags show in process lists)"),
    Flag.optional
  ),
  registryUsername: Flag.String("registry-username").pipe(Flag.withDescription("Schema registry user (or $FLEUVE_SCHEMA_REGISTRY_USERNAME)"), Flag.optional),
  registryPassword: Flag.Redacted("registry-password").pipe(
    Flag.withDescription("Schema registry password (prefer $FLEUVE_SCHEMA_REGISTRY_PASSWORD)"),
    Flag.optional
  ),
  topicPartitions: Flag.Int("topic-partitions").pipe(
    Flag.withDescription("Partitions of the topics the Kafka runtime creates (or $FLEUVE_KAFKA_PARTITIONS, default 3)"),
    Flag.optional
  ),
  replication: Flag.Int("replication-factor").pipe(
    Flag.withDescription("Replication factor of the topics it creates (or $FLEUVE_KAFKA_REPLICATION, default 1)"),
    Flag.optional
  ),
  kafkaClient: Flag.Literals("kafka-client", KAFKA_CLIENTS).pipe(
    Flag.withDescription(
      "Kafka client library (or $FLEUVE_KAFKA_CLIENT, default kafkajs): kafkajs (pure JavaScript) or rdkafka (librdkafka through @confluentinc/kafka-javascript, built by scripts/setup/55-rdkafka.sh: faster producer and transactions, slower consumer on the measured machine; docs/kafka.md, BENCHMARKS.md)"
    ),
    Flag.optional
  )
}

export interface KafkaFlagValues {
  readonly brokers: Option.Option<string>
  readonly registry: Option.Option<string>
  readonly ssl: boolean
  readonly saslMechanism: Option.Option<"plain" | "scram-sha-256" | "scram-sha-512">
  readonly saslUsername: Option.Option<string>
  readonly saslPassword: Option.Option<Redacted.Redacted<string>>
  readonly registryUsername: Option.Option<string>
  readonly registryPassword: Option.Option<Redacted.Redacted<string>>
  readonly topicPartitions: Option.Option<number>
  readonly replication: Option.Option<number>
  readonly kafkaClient?: Option.Option<KafkaClient>
}

/** `--kafka-client rdkafka` where the librdkafka client is not built: says how to build it. */
export class KafkaClientUnavailable extends Error {}

/** Flags over environment over defaults. */
export const kafkaSettingsOf = (f: KafkaFlagValues): Effect.Effect<KafkaSettings, Config.ConfigError | KafkaClientUnavailable> =>
  Effect.gen(function*() {
    const env = yield* kafkaSettingsConfig
    const or = <A>(flag: Option.Option<A>, fallback: Option.Option<A>) => (Option.isSome(flag) ? flag : fallback)
    const client = f.kafkaClient ? Option.getOrElse(f.kafkaClient, () => env.client) : env.client
    // Checked here, once, so a worker does not restart again and again on a client it cannot load.
    if (client === "rdkafka") {
      yield* Effect.try({ try: () => loadRdkafka(), catch: (e) => new KafkaClientUnavailable(e instanceof Error ? e.message : String(e)) })
    }
    return settingsFrom({
      ...env,
      client,
      brokers: Option.getOrElse(f.brokers, () => env.brokers),
      registryUrl: Option.getOrElse(f.registry, () => env.registryUrl),
      ssl: f.ssl || env.ssl,
      saslMechanism: or(f.saslMechanism, env.saslMechanism),
      saslUsername: or(f.saslUsername, env.saslUsername),
      saslPassword: or(f.saslPassword, env.saslPassword),
      registryUsername: or(f.registryUsername, env.registryUsername),
      registryPassword: or(f.registryPassword, env.registryPassword),
      partitions: Option.getOrElse(f.topicPartitions, () => env.partitions),
      replicationFactor: Option.getOrElse(f.replication, () => env.replicationFactor)
    })
  })
