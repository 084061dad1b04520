import * as tf from "@tensorflow/tfjs-core"

/**
 * Whether the cpu-fused backend is the chosen one: set by model/tfjs/backend.ts, read by the model
 * code that hands work to fleuve's fused CPU path. A module of its own (no imports of fleuve) so
 * that Qwen3Model can ask without importing the backend selection, which loads the fused path.
 */
let chosen = false

export const setFusedCpuChosen = (yes: boolean): void => {
  chosen = yes
}

/** True while cpu-fused is the chosen backend and tfjs computes on its cpu backend. */
export const fusedCpuActive = (): boolean => chosen && tf.getBackend() === "cpu"
