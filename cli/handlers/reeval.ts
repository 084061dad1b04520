import { Console, Effect, Layer, Option } from "effect"
import { KafkaRuntime } from "../../pipelines/kafka/runtime.ts"
import { describeSettings } from "../../pipelines/kafka/settings.ts"
import { Warehouse } from "../../pipelines/services.ts"
import { kafkaSettingsOf } from "../flags/kafka.ts"
import { withMaxRecordBytes } from "../../pipelines/record-limit.ts"
import { maxRecordBytesOf } from "../flags/max-record-bytes.ts"
import { basename } from "node:path"
import { judgeFor } from "../../pipelines/evaluate/judges.ts"
import { manifestSignature, reeval, type ReevalSummary } from "../../pipelines/evaluate/reeval.ts"
import { parseShotList } from "../../pipelines/evaluate/shots.ts"
import { baselineSystems, endpointSystem, loadPromptSet } from "../../pipelines/evaluate/systems.ts"
import { reportAnyFailure, reportFailure } from "../common.ts"
import { withWarehouse } from "../../pipelines/services.ts"
import type { ReevalArgs } from "../flags/reeval.ts"
import { endpointSpecOf } from "../flags/endpoint.ts"

const list = (s: string) => s.split(",").map((x) => x.trim()).filter((x) => x !== "")

const printSummary = (s: ReevalSummary) =>
  Console.log(
    `reeval ${s.runId}: ${Object.entries(s.eval.scored).map(([t, n]) => `${t} ${n}`).join(", ") || "nothing"} request(s) scored ` +
      `(${s.eval.fromCache} from the prediction cache), ${s.eval.current} already current, ${s.retiredScores} score(s) retired, ` +
      `${s.eval.scores} score row(s) landed, ${s.rejectedItems + s.eval.deadLetters} dead letter(s)`
  )

export const reevalHandler = (o: ReevalArgs) =>
  Effect.gen(function*() {
    const settings = o.runtime === "kafka" ? yield* kafkaSettingsOf(o) : undefined
    if (settings) yield* Console.error(`reeval on the kafka runtime: each system's grid as consumer groups, ${describeSettings(settings)}`)
    yield* reevalBody(o).pipe(Effect.provide(settings ? Layer.mergeAll(Warehouse.layer(o.warehouse), KafkaRuntime(settings)) : withWarehouse(o.warehouse)))
  }).pipe(
    withMaxRecordBytes(maxRecordBytesOf(o.maxRecordBytes)),
    Effect.catch(reportAnyFailure)
  )

const reevalBody = (o: ReevalArgs) =>
  Effect.gen(function*() {
    const prompts = loadPromptSet()
    const neural = Option.isSome(o.model)
      ? yield* Effect.tryPromise({
        // The tensor runtime loads only when a model is asked for: every other command stays light.
        try: async () => (await import("../../pipelines/evaluate/checkpoint-system.ts")).checkpointSystem({
          dir: o.model.pipe(Option.getOrThrow),
          name: Option.getOrUndefined(o.modelName) ?? basename(o.model.pipe(Option.getOrThrow)),
          backend: o.backend,
          engine: Option.getOrUndefined(o.engine),
          log: (line) => process.stderr.write(`${line}\n`)
        }),
        // A backend or a required engine that cannot run ends the command with its reason.
        catch: (e) => ({ message: e instanceof Error ? e.message : String(e) })
      })
      : undefined
    if (Option.isSome(o.endpoint) !== Option.isSome(o.endpointModel)) return yield* reportFailure({ message: "--endpoint and --endpoint-model go together" })
    const spec = endpointSpecOf(o)
    const served = spec ? yield* endpointSystem({ ...spec, system: Option.getOrUndefined(o.endpointName) }, (line) => process.stderr.write(`${line}\n`)) : undefined
    const scorerWorkers = Option.isSome(o.scorerWorkers) ? list(o.scorerWorkers.value) : []
    if (scorerWorkers.length > 0 && o.runtime !== "kafka") return yield* reportFailure({ message: "--scorer-workers needs --runtime kafka (the workers share the grid's consumer groups)" })
    if (o.localJudge && !neural) return yield* reportFailure({ message: "--local-judge needs --model" })
    const judge = judgeFor({ localModel: o.localJudge ? neural?.model : undefined, url: Option.getOrUndefined(o.judgeUrl), model: o.judgeModel, apiKey: Option.getOrUndefined(o.judgeApiKey) })
    const shots = parseShotList(o.shots)
    if (shots === undefined) return yield* reportFailure({ message: `--shots must list non-negative decimal integers, got '${o.shots}'` })
    if (Option.isSome(o.limit) && o.limit.value < 1) return yield* reportFailure({ message: `--limit must be at least 1, got ${o.limit.value}` })
    const tasks = list(o.tasks)
    const bad = tasks.find((t) => !["mcqa", "extqa", "absqa"].includes(t))
    if (bad) return yield* reportFailure({ message: `--tasks: unknown task '${bad}' (mcqa, extqa, absqa)` })
    const run = reeval({
      manifest: o.manifest,
      shots,
      tasks: tasks as Array<"mcqa" | "extqa" | "absqa">,
      judge,
      force: o.force,
      limit: Option.getOrUndefined(o.limit),
      ...(Option.isSome(o.reference) ? { reference: o.reference.value } : {}),
      systems: (loaded) => [...baselineSystems(prompts, loaded, list(o.systems)), ...(neural ? [neural] : []), ...(served ? [served] : [])],
      ...(scorerWorkers.length > 0 ? { scorerWorkers } : {}),
      ...(served ? { provenance: { endpoint: { system: served.system, modelId: served.model.modelId, modelRevision: served.model.modelRevision } } } : {}),
      log: (line) => process.stderr.write(`${line}\n`)
    }).pipe(Effect.tap(printSummary))
    if (!o.watch) return yield* run
    let last = ""
    while (true) {
      const now = yield* manifestSignature(o.manifest)
      if (now !== last) {
        last = now
        yield* run.pipe(Effect.catch((e: unknown) => Console.error(`reeval failed: ${String((e as { message?: string }).message ?? e)}`)))
        yield* Console.error(`watching ${o.manifest} (every ${o.interval}s; Ctrl-C to stop)`)
      }
      yield* Effect.sleep(`${o.interval} seconds`)
    }
  })
