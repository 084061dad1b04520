import { Command } from "effect/cli"
import { lazyHandler } from "../lazy.ts"
import { workerFlags } from "../flags/worker.ts"

export const workerCommand = Command.make("worker", workerFlags, (args) => lazyHandler(() => import("../handlers/worker.ts"), (h) => h.workerHandler(args))).pipe(
  Command.withDescription(
    "Run one node of a pipeline as a long-lived Kafka worker. Start N workers of a stage to share its partitions; " +
      "a sink's worker owns the DuckDB warehouse (one writer per file) and also lands the dead-letter topics; a second sink worker of the same file " +
      "waits for its lock as a standby and takes over when the first dies. Stops on SIGINT/SIGTERM. " +
      "`predict --pipeline evaluate-<system>` is the evaluation grid's scorer stage for `fleuve reeval --runtime kafka --scorer-workers <system>`: " +
      "give it the system's flags as reeval has them (--endpoint… for an inference server, or --model DIR); it opens no warehouse (docs/endpoints.md). " +
      "The corpus's stage workers keep a run's state (dedup indexes, packer) for that run only: each run starts fresh from the state its run job publishes, " +
      "and a standby that takes a stage over mid-run first replays the run so far (docs/kafka.md)."
  ),
  Command.withExamples([
    { command: "fleuve worker validate-score --pipeline sample-scores", description: "One worker of the validate stage (start several to scale out)" },
    { command: "fleuve worker land-scores --pipeline sample-scores --warehouse /data/fleuve.duckdb", description: "The sink: lands rows, commits offsets after they landed (run it twice: the second is a standby)" },
    { command: "fleuve worker generate-scores --pipeline sample-scores", description: "Run a source once: produce its records and exit" },
    {
      command: "FLEUVE_ENDPOINT_API_KEY=sk-... fleuve worker predict --pipeline evaluate-qwen3 --endpoint http://vllm:8000 --endpoint-model qwen3 --endpoint-concurrency 32 --endpoint-batch-options",
      description: "A scorer of the grid of endpoint system qwen3 (vLLM); start several. The run: fleuve reeval --runtime kafka --scorer-workers qwen3 --endpoint http://vllm:8000 --endpoint-model qwen3"
    },
    {
      command: "fleuve worker dedup-tokenize-pack --pipeline corpus",
      description: "The corpus's dedup stage (start two: one owns the ordered stream, the other stands by); runs come from `fleuve run corpus --runtime kafka`"
    }
  ])
)
