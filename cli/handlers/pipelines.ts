import { Console } from "effect"
import { pipelines } from "../../pipelines/runtime/registry.ts"

export const pipelinesHandler = () =>
  Console.log(
    pipelines.map((p) => `${p.name}\n    ${p.description}\n    topics: ${p.topics.join(" → ")}`).join("\n\n")
  )
