import { DEFAULT_BROKERS, DEFAULT_REGISTRY, FETCH_BYTES, type KafkaSettings } from "../../pipelines/kafka/settings.ts"

/**
 * The Kafka benchmarks' settings: the broker, registry and fetch size from the environment (as
 * `fleuve` reads them: FLEUVE_KAFKA_BROKERS, FLEUVE_SCHEMA_REGISTRY_URL, FLEUVE_KAFKA_FETCH_BYTES),
 * 3 partitions, records up to 1 MiB.
 */
export const benchSettings = (clientId: string, over: Partial<KafkaSettings> = {}): KafkaSettings => ({
  brokers: [process.env.FLEUVE_KAFKA_BROKERS ?? DEFAULT_BROKERS],
  clientId,
  ssl: false,
  registryUrl: process.env.FLEUVE_SCHEMA_REGISTRY_URL ?? DEFAULT_REGISTRY,
  partitions: 3,
  replicationFactor: 1,
  maxRecordBytes: 1 << 20,
  fetchBytes: Number(process.env.FLEUVE_KAFKA_FETCH_BYTES ?? FETCH_BYTES),
  ...over
})
