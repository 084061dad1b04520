import { Flag } from "effect/cli"
import { backendNames } from "../../model/names.ts"
import { type ArgsOf } from "../lazy.ts"
import { engineFlag } from "./model-selection.ts"
import { warehouseFlag } from "./warehouse.ts"
import { maxRecordBytesFlag } from "./max-record-bytes.ts"
import { withDefaultSaid } from "./defaults.ts"

export const demoFlags = {
  warehouse: warehouseFlag,
  out: Flag.String("out").pipe(Flag.withDescription(withDefaultSaid("Folder for the models (models/), the packed corpus (corpus/) and the report (report.html, report.md, figures/)", "./fleuve-demo")), Flag.withDefault("./fleuve-demo")),
  backend: Flag.Literals("backend", backendNames).pipe(
    Flag.withDescription(withDefaultSaid("Tensor backend: auto picks webgpu (GPU via Dawn/Vulkan), then tensorflow (tfjs-node, if installed), else cpu-fused (fleuve's fused CPU path: WebAssembly SIMD on every core, trains and scores); wasm cannot train (it lacks the embedding gradient kernel), cpu is tfjs' plain JavaScript", "auto" as const)),
    Flag.withDefault("auto" as const)
  ),
  engine: engineFlag,
  maxRecordBytes: maxRecordBytesFlag,
  model: Flag.String("model").pipe(Flag.withDescription("A real Hugging Face Qwen3 checkpoint to use as the base: skips the tiny model's pre-training"), Flag.optional),
  limit: Flag.Int("limit").pipe(Flag.withDescription("Test items scored per task (default: the demo's own number, fewer with --quick)"), Flag.optional),
  quick: Flag.Boolean("quick").pipe(Flag.withDescription(withDefaultSaid("A few training steps, 3 items per task, 0 and 3 shots: the shortened run of the test suite (under 2 minutes)", false)), Flag.withDefault(false))
}
export type DemoArgs = ArgsOf<typeof demoFlags>
