import { Console } from "effect"
import { pipelines } from "../../pipelines/runtime/registry.ts"

export const pipelinesHandler = () =>
  Console.log(
    [
      ...pipelines.map((p) => `${p.name}\n    ${p.description}\n    topics: ${p.topics.join(" → ")}`),
      // One per system, made by `fleuve reeval --runtime kafka`; only its scorer stage runs in a worker.
      "evaluate-<system>\n    A system's evaluation grid, run by `fleuve reeval --runtime kafka`; its scorer stage runs in other processes as " +
      "`fleuve worker predict --pipeline evaluate-<system>` with the system's --endpoint… or --model flags (reeval --scorer-workers <system>)\n" +
      "    topics: eval.requests.<system> → eval.predictions.<system> → eval.scores.<system>"
    ].join("\n\n")
  )
