/**
 * The tensor backends fleuve knows by name (a module of its own: CLI flags list them without loading
 * tfjs). `cpu-fused` is fleuve's fused CPU path (model/cpu/): tfjs' cpu backend holds the tensors,
 * fleuve's kernels run the Qwen3 forward, backward and loss.
 */
export const backendNames = ["auto", "webgpu", "tensorflow", "cpu-fused", "wasm", "cpu"] as const
export type BackendName = (typeof backendNames)[number]

/** How log-likelihood scoring computes: auto (the WGSL engine where it can run), wgsl (required), tfjs. */
export const scoringEngineNames = ["auto", "wgsl", "tfjs"] as const
export type ScoringEngineName = (typeof scoringEngineNames)[number]
