import { Console } from "effect"
import { Command } from "effect/cli"
import { pipelines } from "../../pipelines/registry.ts"

export const pipelinesCommand = Command.make("pipelines", {}, () =>
  Console.log(
    pipelines.map((p) => `${p.name}\n    ${p.description}\n    topics: ${p.topics.join(" → ")}`).join("\n\n")
  )).pipe(Command.withDescription("List the pipelines `fleuve run` can run"))
