import { Command } from "effect/cli"
import { lazyHandler } from "../lazy.ts"
import { importLmEvalFlags } from "../flags/import-lm-eval.ts"

export const importLmEvalCommand = Command.make("import-lm-eval", importLmEvalFlags, (args) => lazyHandler(() => import("../handlers/import-lm-eval.ts"), (h) => h.importLmEvalHandler(args))).pipe(
  Command.withDescription("Land lm-evaluation-harness --log_samples outputs as a system, to compare runs made elsewhere with fleuve's."),
  Command.withExamples([
    { command: "fleuve import-lm-eval samples_frenchmedmcqa_2026-11-20T10-15-02.jsonl --system Mistral-7B", description: "acc and acc_norm per item, task from the file name" },
    { command: "fleuve import-lm-eval out/samples_x.jsonl --system M --task mcqa --shots 5 --id-field id --dataset-version enmed-sample/mcqa", description: "Pair with fleuve's own MCQA items" }
  ])
)
