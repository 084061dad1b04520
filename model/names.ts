/**
 * The model library's names and defaults, with nothing heavy behind them: CLI flags list backends,
 * scoring engines and LoRA targets from here without loading tfjs, Dawn or the kernels. Everything
 * here is re-exported by model/index.ts, the library's entry point.
 */
export { type BackendName, backendNames, type ScoringEngineName, scoringEngineNames } from "./tfjs/backend-names.ts"
export { attentionModules, mlpModules, type ProjectionName, projectionNames } from "./qwen3/projections.ts"
export { defaultLoraConfig, type LoraConfig } from "./qwen3/lora-config.ts"
export { DEFAULT_INCLUDE } from "./formats/nf4-checkpoint.ts"
