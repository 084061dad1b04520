import { kafkajsTransport } from "./kafkajs-transport.ts"
import { rdkafkaTransport } from "./rdkafka-transport.ts"
import type { KafkaSettings } from "./settings.ts"
import type { KafkaTransport } from "./transport.ts"

/**
 * The transport the settings name (`--kafka-client`, FLEUVE_KAFKA_CLIENT): kafkajs unless rdkafka
 * is asked for. rdkafka throws `RdkafkaUnavailable` (saying how to build it) where it is not built.
 */
export const transportOf = (settings: KafkaSettings): KafkaTransport =>
  settings.client === "rdkafka" ? rdkafkaTransport(settings) : kafkajsTransport(settings)
