import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { statSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { basename } from "node:path"
import { localModelJudge } from "../../operators/qa/judge/local-model.ts"
import { offlineReferenceJudge } from "../../operators/qa/judge/offline-reference.ts"
import { openAiCompatibleJudge } from "../../operators/qa/judge/openai-compatible.ts"
import { readManifest, SAMPLE_MANIFEST } from "../../operators/qa/loaders/manifest.ts"
import { loadPromptSet } from "../../operators/qa/prompts/templates.ts"
import { reeval, type ReevalSummary } from "../../pipelines/enmed/reeval.ts"
import { baselineSystems } from "../../pipelines/enmed/systems.ts"
import { reportFailure, withWarehouse } from "../common.ts"
import { warehouseFlag } from "../warehouse-flag.ts"

const list = (s: string) => s.split(",").map((x) => x.trim()).filter((x) => x !== "")

const printSummary = (s: ReevalSummary) =>
  Console.log(
    `reeval ${s.runId}: ${Object.entries(s.eval.scored).map(([t, n]) => `${t} ${n}`).join(", ") || "nothing"} request(s) scored ` +
      `(${s.eval.fromCache} from the prediction cache), ${s.eval.current} already current, ${s.retiredScores} score(s) retired, ` +
      `${s.eval.scores} score row(s) landed, ${s.rejectedItems + s.eval.deadLetters} dead letter(s)`
  )

/** Files of a manifest and their modification times: what --watch polls. */
const signature = (manifest: string) =>
  Effect.gen(function*() {
    const m = yield* readManifest(manifest)
    const base = dirname(resolve(manifest))
    const files = [manifest, ...Object.values(m.tasks).flatMap((t) => [t.test, ...(t.train ? [t.train] : [])]).map((f) => resolve(base, f))]
    return files.map((f) => {
      try {
        const st = statSync(f)
        return `${f}:${st.mtimeMs}:${st.size}`
      } catch {
        return `${f}:missing`
      }
    }).join("\n")
  })

export const reevalCommand = Command.make(
  "reeval",
  {
    manifest: Flag.String("manifest").pipe(Flag.withDescription("Dataset manifest (JSON: per task its loader format, test file, training pool); default: the bundled sample data"), Flag.withDefault(SAMPLE_MANIFEST)),
    systems: Flag.String("systems").pipe(Flag.withDescription("Comma-separated systems to score (no-GPU baselines: char-2gram … char-5gram)"), Flag.withDefault("char-3gram")),
    shots: Flag.String("shots").pipe(Flag.withDescription("Comma-separated shot counts (any k)"), Flag.withDefault("0,3,5")),
    tasks: Flag.String("tasks").pipe(Flag.withDescription("Comma-separated tasks among mcqa, extqa, absqa"), Flag.withDefault("mcqa,extqa,absqa")),
    model: Flag.String("model").pipe(Flag.withDescription("A Qwen3 checkpoint folder (config.json, *.safetensors, tokenizer.json) to score as one more system, on the tfjs runtime"), Flag.optional),
    modelName: Flag.String("model-name").pipe(Flag.withDescription("System name for --model (default: the folder name)"), Flag.optional),
    backend: Flag.Literals("backend", ["auto", "webgpu", "tensorflow", "wasm", "cpu"]).pipe(Flag.withDescription("tfjs backend for --model"), Flag.withDefault("auto")),
    localJudge: Flag.Boolean("local-judge").pipe(Flag.withDescription("Judge AbsQA with the --model itself (local-model judge)"), Flag.withDefault(false)),
    judgeUrl: Flag.String("judge-url").pipe(Flag.withDescription("OpenAI-compatible server for the AbsQA judge (POST /v1/chat/completions); default: the offline reference judge"), Flag.optional),
    judgeModel: Flag.String("judge-model").pipe(Flag.withDescription("Model name sent to --judge-url"), Flag.withDefault("judge")),
    reference: Flag.String("reference").pipe(Flag.withDescription("Refresh the analyses (fleuve analyze) against this reference system after scoring"), Flag.optional),
    force: Flag.Boolean("force").pipe(Flag.withDescription("Re-score every request (predictions still come from the cache when their key matches)"), Flag.withDefault(false)),
    watch: Flag.Boolean("watch").pipe(Flag.withDescription("Keep running: re-evaluate whenever a dataset file changes"), Flag.withDefault(false)),
    interval: Flag.Int("interval").pipe(Flag.withDescription("Seconds between checks in --watch mode"), Flag.withDefault(5)),
    warehouse: warehouseFlag
  },
  (o) =>
    Effect.gen(function*() {
      const prompts = loadPromptSet()
      const neural = Option.isSome(o.model)
        ? yield* Effect.promise(async () => {
          // The tensor runtime loads only when a model is asked for: every other command stays light.
          const { describeBackend, selectBackend } = await import("../../gpu/backend.ts")
          const { loadQwen3QaModel } = await import("../../operators/qa/qwen3-model.ts")
          const choice = await selectBackend(o.backend)
          process.stderr.write(`loading ${o.model.pipe(Option.getOrThrow)} on ${describeBackend(choice)}\n`)
          const dir = Option.getOrThrow(o.model)
          return { system: Option.getOrUndefined(o.modelName) ?? basename(dir), model: loadQwen3QaModel(dir, { modelId: Option.getOrUndefined(o.modelName) ?? basename(dir) }) }
        })
        : undefined
      if (o.localJudge && !neural) return yield* reportFailure({ message: "--local-judge needs --model" })
      const judge = o.localJudge && neural
        ? localModelJudge(neural.model)
        : Option.isSome(o.judgeUrl) ? openAiCompatibleJudge({ baseUrl: o.judgeUrl.value, model: o.judgeModel }) : offlineReferenceJudge
      const shots = list(o.shots).map(Number)
      if (shots.some((k) => !Number.isInteger(k) || k < 0)) return yield* reportFailure({ message: `--shots must list non-negative integers, got '${o.shots}'` })
      const tasks = list(o.tasks)
      const bad = tasks.find((t) => !["mcqa", "extqa", "absqa"].includes(t))
      if (bad) return yield* reportFailure({ message: `--tasks: unknown task '${bad}' (mcqa, extqa, absqa)` })
      const run = reeval({
        manifest: o.manifest,
        shots,
        tasks: tasks as Array<"mcqa" | "extqa" | "absqa">,
        judge,
        force: o.force,
        ...(Option.isSome(o.reference) ? { reference: o.reference.value } : {}),
        systems: (loaded) => [...baselineSystems(prompts, loaded, list(o.systems)), ...(neural ? [{ ...neural, description: `Qwen3 checkpoint ${Option.getOrUndefined(o.model)}` }] : [])],
        log: (line) => process.stderr.write(`${line}\n`)
      }).pipe(Effect.tap(printSummary))
      if (!o.watch) return yield* run
      let last = ""
      while (true) {
        const now = yield* signature(o.manifest)
        if (now !== last) {
          last = now
          yield* run.pipe(Effect.catch((e: unknown) => Console.error(`reeval failed: ${String((e as { message?: string }).message ?? e)}`)))
          yield* Console.error(`watching ${o.manifest} (every ${o.interval}s; Ctrl-C to stop)`)
        }
        yield* Effect.sleep(`${o.interval} seconds`)
      }
    }).pipe(
      Effect.provide(withWarehouse(o.warehouse)),
      Effect.catch((e: unknown) => reportFailure({ message: String((e as { message?: string }).message ?? e) }))
    )
).pipe(
  Command.withDescription(
    "Re-evaluate after a dataset change: items are compared by content hash, only new or changed items (or changed prompts) are scored, removed items are retired with their scores (kept in score_history)."
  ),
  Command.withExamples([
    { command: "fleuve reeval", description: "Score the bundled sample data with the char-3gram baseline, 0/3/5 shots" },
    { command: "fleuve reeval --manifest my-bench.json --shots 0,5 --tasks mcqa", description: "Only MCQA of your own benchmark" },
    { command: "fleuve reeval --judge-url http://localhost:8000 --judge-model Qwen3-14B", description: "AbsQA judged by an OpenAI-compatible server" },
    { command: "fleuve reeval --watch --interval 10", description: "Re-evaluate whenever a dataset file changes" },
    { command: "fleuve reeval --model ./Qwen3-0.6B --backend webgpu --systems char-3gram", description: "Score a real checkpoint next to the baseline" }
  ])
)
