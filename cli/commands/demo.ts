import { Command } from "effect/cli"
import { lazyHandler } from "../lazy.ts"
import { demoFlags } from "../flags/demo.ts"

export const demoCommand = Command.make("demo", demoFlags, (args) => lazyHandler(() => import("../handlers/demo.ts"), (h) => h.demoHandler(args))).pipe(
  Command.withDescription(
    "The EnMed protocol end to end on the bundled sample data: pre-train a tiny Qwen3-shaped model on general French text, " +
      "DAPT on the medical corpus through the corpus pipeline, train the Unified and single-task LoRA adapters, score the " +
      "6-cell grid (MCQA/ExtQA/AbsQA x 0/3 shots, every test item) for the 6 systems, measure each system's loss on held-out corpus text, " +
      "run the analyses against the base and write the report, which opens with what was found. Runs the study studies/demo.yaml. " +
      "Prints the report's path. The tiny model's numbers show the method, not EnMed's; AbsQA is judged by the offline reference judge."
  ),
  Command.withExamples([
    { command: "fleuve demo", description: "The whole protocol on 2 CPU cores (about 2 minutes on a quiet machine, 5-8.5 on a busy one), report in ./fleuve-demo/report.html" },
    { command: "fleuve demo --quick --out /tmp/demo --warehouse /tmp/demo.duckdb", description: "A shortened run (under 2 minutes)" },
    { command: "fleuve demo --model ./Qwen3-0.6B --backend webgpu", description: "The same protocol on a real checkpoint and a GPU" },
    { command: "fleuve demo --model ./Qwen3-0.6B --backend webgpu --engine tfjs", description: "Score the grid on the tfjs runtime instead of fleuve's WGSL engine" }
  ])
)
