import { Console, Effect, Option } from "effect"
import { statSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { basename } from "node:path"
import { localModelJudge } from "../../operators/qa/judge/local-model.ts"
import { offlineReferenceJudge } from "../../operators/qa/judge/offline-reference.ts"
import { openAiCompatibleJudge } from "../../operators/qa/judge/openai-compatible.ts"
import { readManifest } from "../../operators/qa/loaders/manifest.ts"
import { loadPromptSet } from "../../operators/qa/prompts/templates.ts"
import { reeval, type ReevalSummary } from "../../pipelines/evaluate/reeval.ts"
import { baselineSystems } from "../../pipelines/evaluate/systems.ts"
import { reportFailure, withWarehouse } from "../common.ts"
import type { ReevalArgs } from "../flags/reeval.ts"

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

export const reevalHandler = (o: ReevalArgs) =>
  Effect.gen(function*() {
    const prompts = loadPromptSet()
    const neural = Option.isSome(o.model)
      ? yield* Effect.tryPromise({
        try: async () => {
          // The tensor runtime loads only when a model is asked for: every other command stays light.
          const { describeBackend, selectBackend } = await import("../../model/index.ts")
          const { qwen3QaModel } = await import("../../operators/qa/qwen3-model.ts")
          const { ModelHandle } = await import("../../model/index.ts")
          const { describeScoringPath, setScoringEngine } = await import("../../model/index.ts")
          const choice = await selectBackend(o.backend)
          process.stderr.write(`loading ${o.model.pipe(Option.getOrThrow)} on ${describeBackend(choice)}\n`)
          const dir = Option.getOrThrow(o.model)
          const handle = ModelHandle.load({ dir })
          setScoringEngine(Option.getOrUndefined(o.engine))
          process.stderr.write(`${await describeScoringPath(handle.current.model)}\n`)
          return { system: Option.getOrUndefined(o.modelName) ?? basename(dir), model: qwen3QaModel(handle, { modelId: Option.getOrUndefined(o.modelName) ?? basename(dir) }) }
        },
        // A backend or a required engine that cannot run ends the command with its reason.
        catch: (e) => ({ message: e instanceof Error ? e.message : String(e) })
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
