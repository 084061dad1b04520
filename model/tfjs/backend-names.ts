/** The tensor backends fleuve knows by name (a module of its own: CLI flags list them without loading tfjs). */
export const backendNames = ["auto", "webgpu", "tensorflow", "wasm", "cpu"] as const
export type BackendName = (typeof backendNames)[number]

/** How log-likelihood scoring computes: auto (the WGSL engine where it can run), wgsl (required), tfjs. */
export const scoringEngineNames = ["auto", "wgsl", "tfjs"] as const
export type ScoringEngineName = (typeof scoringEngineNames)[number]
