import { Command } from "effect/cli"
import { lazyHandler } from "../lazy.ts"
import { studyFlags } from "../flags/study.ts"

export const studyCommand = Command.make("study", studyFlags, (args) => lazyHandler(() => import("../handlers/study.ts"), (h) => h.studyHandler(args))).pipe(
  Command.withDescription(
    "Run a whole evaluation protocol described as data (docs/study.md): the corpus pipeline, the base model, DAPT and LoRA stages, " +
      "the systems × tasks × shots grid, the analyses and the report. Every step is keyed by the hash of its inputs and settings: " +
      "a rerun does only what changed (an unchanged study runs nothing), an interrupted one resumes (training from its last checkpoint, " +
      "the grid from the prediction cache). Progress on stderr; a summary of the steps with their timings at the end; the report's path on stdout. " +
      "First Ctrl-C stops cleanly after checkpointing; a second exits at once."
  ),
  Command.withExamples([
    { command: "fleuve study studies/demo.yaml", description: "The demo's study (what `fleuve demo` runs), report in ./fleuve-study-demo/" },
    { command: "fleuve study studies/enmed-qwen3-0.6b.yaml --dry-run", description: "The plan: each step, whether it is done, tokens to train and requests to score" },
    { command: "fleuve study my-study.yaml --only train:unified", description: "Retrain one adapter (its grid rows and the analyses rerun at the next full run)" },
    { command: "fleuve study my-study.yaml --from analyze --warehouse runs.duckdb", description: "Redo the analyses and the report on an existing warehouse" },
    { command: "fleuve study studies/enmed-qwen3-14b.yaml --backend webgpu --out /data/enmed", description: "The EnMed card's protocol at full size on a GPU host" }
  ])
)
