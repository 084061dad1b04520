import { Schema } from "effect"
import { Score } from "../../schemas/evaluation.ts"
import { map, Outcome } from "../operator.ts"

const decode = Schema.decodeUnknownExit(Score)

/** Checks records claiming to be Scores (from generators, topics) against the Score schema. */
export const validateScore = map<unknown, Score>("validate-score", (value) => {
  const result = decode(value)
  if (result._tag === "Success") return result.value
  const message = String(result.cause).replace(/^.*SchemaError\(/s, "").replace(/\)\)\]\)\)?$/s, "")
  const field = /at \["([^"]+)"\]/.exec(message)?.[1]
  return Outcome.reject(message.replace(/\s+/g, " ").trim(), field)
})
