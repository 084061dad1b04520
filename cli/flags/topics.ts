import { kafkaFlags } from "./kafka.ts"
import { type ArgsOf } from "../lazy.ts"

export const topicsFlags = { ...kafkaFlags }
export type TopicsArgs = ArgsOf<typeof topicsFlags>
