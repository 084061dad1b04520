/**
 * The seven projections of a Qwen3 block, named as in Hugging Face checkpoints. A module of its
 * own: the CLI lists them (LoRA targets) without loading tfjs.
 */
export const attentionModules = ["q_proj", "k_proj", "v_proj", "o_proj"] as const
export const mlpModules = ["gate_proj", "up_proj", "down_proj"] as const
export type ProjectionName = (typeof attentionModules)[number] | (typeof mlpModules)[number]
export const projectionNames: ReadonlyArray<ProjectionName> = [...attentionModules, ...mlpModules]
