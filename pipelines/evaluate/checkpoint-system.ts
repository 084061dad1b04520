import { type BackendName, describeBackend, describeScoringPath, ModelHandle, type ScoringEngineName, selectBackend, setScoringEngine } from "../../model/index.ts"
import { qwen3QaModel } from "../../operators/qa/qwen3-model.ts"
import type { EvalSystem } from "./grid.ts"

/**
 * A Qwen3 checkpoint folder as a system: the backend selected and the scoring path said on
 * `log`. Rejects with the reason when a backend or a required engine cannot run.
 */
export const checkpointSystem = async (o: { readonly dir: string; readonly name: string; readonly backend: BackendName; readonly engine: ScoringEngineName | undefined; readonly log: (line: string) => void }): Promise<EvalSystem> => {
  const choice = await selectBackend(o.backend)
  o.log(`loading ${o.dir} on ${describeBackend(choice)}`)
  const handle = ModelHandle.load({ dir: o.dir })
  setScoringEngine(o.engine)
  o.log(await describeScoringPath(handle.current.model))
  return { system: o.name, model: qwen3QaModel(handle, { modelId: o.name }), description: `Qwen3 checkpoint ${o.dir}` }
}
