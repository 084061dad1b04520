import { type ArgsOf } from "../lazy.ts"
import { kafkaFlags } from "./kafka.ts"

// Listing topics and lag talks to the brokers only: no schema registry, no topic creation settings.
const { brokers, ssl, saslMechanism, saslUsername, saslPassword } = kafkaFlags
export const topicsFlags = { brokers, ssl, saslMechanism, saslUsername, saslPassword }
export type TopicsArgs = ArgsOf<typeof topicsFlags>
