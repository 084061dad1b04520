import { Flag } from "effect/cli"
import { backendNames } from "../../model/names.ts"
import { type ArgsOf } from "../lazy.ts"
import { engineFlag } from "./model-selection.ts"
import { warehouseFlag } from "./warehouse.ts"

export const demoFlags = {
  warehouse: warehouseFlag,
  out: Flag.String("out").pipe(Flag.withDescription("Folder for the models (models/), the packed corpus (corpus/) and the report (report.html, report.md, figures/)"), Flag.withDefault("./fleuve-demo")),
  backend: Flag.Literals("backend", backendNames).pipe(
    Flag.withDescription("Tensor backend: auto picks webgpu (GPU via Dawn/Vulkan), then tensorflow (tfjs-node, if installed), else cpu (wasm cannot train: it lacks the embedding gradient kernel)"),
    Flag.withDefault("auto" as const)
  ),
  engine: engineFlag,
  model: Flag.String("model").pipe(Flag.withDescription("A real Hugging Face Qwen3 checkpoint to use as the base: skips the tiny model's pre-training"), Flag.optional),
  quick: Flag.Boolean("quick").pipe(Flag.withDescription("A few training steps, 3 items per task, 0 and 3 shots: the shortened run of the test suite (under 2 minutes)"), Flag.withDefault(false))
}
export type DemoArgs = ArgsOf<typeof demoFlags>
