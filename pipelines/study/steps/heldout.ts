/**
 * The `heldout` step of a study: each model system's loss on the held-out text (corpus.heldout),
 * measured by pipelines/heldout-loss.ts at the corpus' sequence length and landed in heldout_loss.
 */
import { Effect } from "effect"
import { measureHeldoutLoss, readJsonlTexts } from "../../heldout-loss.ts"
import type { PlannedStep } from "../plan.ts"
import { systemSource } from "../study-file.ts"
import type { StepEnv, StepSummary } from "./context.ts"

export const runHeldoutStep = (step: PlannedStep, runId: string, env: StepEnv) =>
  Effect.gen(function*() {
    const s = step.spec
    if (s.kind !== "heldout") return yield* Effect.die(new Error(`${step.id} is not a heldout step`))
    const spec = env.plan.study.spec
    const texts = yield* readJsonlTexts(s.file)
    // The DAPT sequence length, so the numbers compare with DAPT's training loss (the plan's key uses the same default).
    const seqLen = spec.corpus?.sequenceLength ?? 512
    const stepOf = (model: string) => (model === "base" ? "base" : `train:${model}`)
    const losses: Record<string, number> = {}
    for (const name of s.systems) {
      const system = spec.systems.find((x) => x.name === name)
      const src = system ? systemSource(system, env.plan.study.dir) : undefined
      if (!src || src._tag !== "Model") return yield* Effect.fail(new Error(`${step.id}: ${name} is not a model system of the study`))
      const from = src.adapter !== undefined ? spec.training![src.adapter]!.from : src.model
      const modelDir = env.outputs.get(stepOf(from))?.model
      const adapter = src.adapter !== undefined ? env.outputs.get(`train:${src.adapter}`)?.adapter : undefined
      if (!modelDir || (src.adapter !== undefined && !adapter)) return yield* Effect.fail(new Error(`${step.id}: the model of ${name} is not built`))
      const row = yield* measureHeldoutLoss({ system: name, modelDir, adapter, texts, seqLen, textsSource: spec.corpus?.heldout, modelId: `fleuve-study/${spec.name}/${from}`, runId })
      env.log(`heldout: ${name}: ${row.meanNll.toFixed(3)} nats/token over ${row.tokens} tokens`)
      losses[name] = row.meanNll
    }
    return {
      detail: `mean token loss on ${texts.length} held-out texts: ${Object.entries(losses).map(([n, l]) => `${n} ${l.toFixed(3)}`).join(", ")}`,
      losses
    } satisfies StepSummary
  })
