import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { mkdirSync } from "node:fs"
import { resolve } from "node:path"
import { offlineReferenceJudge } from "../../operators/qa/judge/offline-reference.ts"
import { loadManifest, SAMPLE_MANIFEST } from "../../operators/qa/loaders/manifest.ts"
import { loadPromptSet } from "../../operators/qa/prompts/templates.ts"
import { runDemo } from "../../pipelines/enmed/demo-plan.ts"
import { backendNames } from "../../gpu/backend.ts"
import { reportFailure, withWarehouse } from "../common.ts"
import { progressReporter } from "../progress.ts"
import { warehouseFlag } from "../warehouse-flag.ts"

const stderr = (line: string) => process.stderr.write(`${line}\n`)

export const demoCommand = Command.make(
  "demo",
  {
    warehouse: warehouseFlag,
    out: Flag.String("out").pipe(Flag.withDescription("Folder for the models (models/), the packed corpus (corpus/) and the report (report.html, report.md, figures/)"), Flag.withDefault("./fleuve-demo")),
    backend: Flag.Literals("backend", backendNames).pipe(
      Flag.withDescription("Tensor backend: auto picks webgpu (GPU via Dawn/Vulkan), then tensorflow (tfjs-node, if installed), else cpu (wasm cannot train: it lacks the embedding gradient kernel)"),
      Flag.withDefault("auto" as const)
    ),
    model: Flag.String("model").pipe(Flag.withDescription("A real Hugging Face Qwen3 checkpoint to use as the base: skips the tiny model's pre-training"), Flag.optional),
    quick: Flag.Boolean("quick").pipe(Flag.withDescription("A few training steps, 3 items per task, 0 and 3 shots: the shortened run of the test suite (under 2 minutes)"), Flag.withDefault(false))
  },
  (o) =>
    Effect.gen(function*() {
      const started = performance.now()
      // The tensor runtime loads only here: every other command stays light.
      const { describeBackend, selectBackend } = yield* Effect.promise(() => import("../../gpu/backend.ts"))
      const { capDecoding, demoSizes, demoSteps, limitItems } = yield* Effect.promise(() => import("../../pipelines/enmed/demo.ts"))
      const choice = yield* Effect.tryPromise({
        try: () => selectBackend(o.backend, "training"),
        catch: (e) => ({ message: e instanceof Error ? e.message : String(e) })
      })
      stderr(`demo: ${describeBackend(choice)}`)
      const sizes = demoSizes(o.quick)
      const out = resolve(o.out)
      mkdirSync(out, { recursive: true })
      const { tasks } = yield* loadManifest(SAMPLE_MANIFEST)
      const prompts = capDecoding(loadPromptSet(), sizes.maxNewTokens)
      const at = () => `[${((performance.now() - started) / 1000).toFixed(0)}s]`
      let lastStep = 0
      const steps = demoSteps({
        outDir: out,
        sizes,
        ...(Option.isSome(o.model) ? { modelDir: o.model.value } : {}),
        log: (line) => stderr(`${at()} ${line}`),
        // One line every few optimizer steps: enough to see it move without flooding the terminal.
        onStep: (label) => (r) => {
          const now = performance.now()
          if (r.step === r.totalSteps || r.step === 1 || now - lastStep > 5000) {
            lastStep = now
            stderr(`${label}: step ${r.step}/${r.totalSteps}  loss ${r.loss.toFixed(4)}  ${r.tokensPerSecond.toFixed(0)} tokens/s`)
          }
        },
        corpusRun: { onProgress: progressReporter() }
      })
      const report = yield* runDemo(steps, {
        prompts,
        tasks: limitItems(tasks, sizes.itemsPerTask),
        judge: offlineReferenceJudge,
        shots: sizes.shots,
        log: (line) => stderr(`${at()} demo: ${/^\d\/6 /.test(line) ? "step " : ""}${line}`)
      })
      stderr(`demo: AbsQA judged by ${offlineReferenceJudge.id} (offline reference judge: token F1 against the reference answer, no LLM)`)
      stderr(`demo: finished in ${((performance.now() - started) / 1000).toFixed(1)}s`)
      yield* Console.log(report)
    }).pipe(
      Effect.provide(withWarehouse(o.warehouse)),
      Effect.catch((e: unknown) => reportFailure({ message: String((e as { message?: string }).message ?? e) }))
    )
).pipe(
  Command.withDescription(
    "The EnMed protocol end to end on the bundled sample data: pre-train a tiny Qwen3-shaped model on general French text, " +
      "DAPT on the medical corpus through the corpus pipeline, train the Unified and single-task LoRA adapters, score the " +
      "9-cell grid (MCQA/ExtQA/AbsQA x 0/3/5 shots) for the 6 systems, run the analyses against the base and write the report. " +
      "Prints the report's path. The tiny model's numbers are illustrative; AbsQA is judged by the offline reference judge."
  ),
  Command.withExamples([
    { command: "fleuve demo", description: "The whole protocol on 2 CPU cores (under 10 minutes), report in ./fleuve-demo/report.html" },
    { command: "fleuve demo --quick --out /tmp/demo --warehouse /tmp/demo.duckdb", description: "A shortened run (under 2 minutes)" },
    { command: "fleuve demo --model ./Qwen3-0.6B --backend webgpu", description: "The same protocol on a real checkpoint and a GPU" }
  ])
)
