import { Effect } from "effect"
import { trainCharNgram } from "../../operators/qa/baseline/char-ngram.ts"
import { type EndpointSpec, makeEndpointQaModel } from "../../operators/qa/endpoint-model.ts"
import type { TaskData } from "../../operators/qa/loaders/manifest.ts"
import { trainingExample } from "../../operators/qa/prompts/render.ts"
import type { PromptSet } from "../../operators/qa/prompts/templates.ts"
import type { EvalSystem } from "./grid.ts"

export { loadPromptSet } from "../../operators/qa/prompts/templates.ts"
export type { EndpointSpec } from "../../operators/qa/endpoint-model.ts"

/**
 * Systems that need no neural runtime. `char-3gram` is a character trigram model trained on the
 * training pools' prompts and answers: a floor every real system should beat, and what lets
 * re-evaluation run on any machine. Neural systems (base, DAPT, LoRA adapters) come from the
 * model runtime through the same QaModel interface.
 */
export const baselineSystems = (prompts: PromptSet, tasks: ReadonlyArray<TaskData>, names: ReadonlyArray<string> = ["char-3gram"]): Array<EvalSystem> => {
  const texts = tasks.flatMap((t) => t.train.map(({ item }) => {
    const ex = trainingExample(prompts, item)
    return `${ex.prompt}${ex.completion}`
  }))
  return names.map((name) => {
    const m = /^char-(\d)gram$/.exec(name)
    if (!m) throw new Error(`unknown baseline system '${name}' (known: char-2gram … char-5gram)`)
    const order = Number(m[1])
    return { system: name, model: trainCharNgram(texts, { order, name: `fleuve/char-${order}gram` }), description: `character ${order}-gram baseline trained on the training pools` }
  })
}

/**
 * A system served by an OpenAI-compatible inference server (`{ endpoint, model, tokenizer? }`):
 * scored and generated through its HTTP API (operators/qa/endpoint-model.ts). The system name
 * defaults to the served model name. Progress (requests/s) goes to `log`.
 */
export const endpointSystem = (spec: EndpointSpec & { readonly system?: string | undefined }, log: (line: string) => void = () => {}) =>
  makeEndpointQaModel({
    ...spec,
    onProgress: spec.onProgress ?? ((p) => log(`${p.endpoint}: ${p.requests} request(s), ${p.requestsPerSecond.toFixed(1)} req/s, ${p.retries} retried`))
  }).pipe(
    Effect.map((model): EvalSystem => ({
      system: spec.system ?? spec.model,
      model,
      description: `${spec.model} served at ${model.client.endpoint} (revision ${model.modelRevision})`
    }))
  )
