import { Command } from "effect/cli"
import { lazyHandler } from "../lazy.ts"

export const pipelinesCommand = Command.make("pipelines", {}, () => lazyHandler(() => import("../handlers/pipelines.ts"), (h) => h.pipelinesHandler())).pipe(
  Command.withDescription("List the pipelines `fleuve run` can run, with the topics each passes its records through"),
  Command.withExamples([
    { command: "fleuve pipelines", description: "Names, descriptions and topics" },
    { command: "fleuve run sample-scores", description: "Then run one by name" }
  ])
)
