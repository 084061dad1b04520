/**
 * The seven projections of a Qwen3 block, named as in Hugging Face checkpoints. A module of its
 * own: the CLI lists them (LoRA targets) without loading tfjs.
 */
export const attentionModules = ["q_proj", "k_proj", "v_proj", "o_proj"] as const
export const mlpModules = ["gate_proj", "up_proj", "down_proj"] as const
export type ProjectionName = (typeof attentionModules)[number] | (typeof mlpModules)[number]
export const projectionNames: ReadonlyArray<ProjectionName> = [...attentionModules, ...mlpModules]

/** The widths a projection's shape depends on (Qwen3Config's, or a benchmark's random model). */
export interface ProjectionWidths {
  readonly hidden: number
  readonly heads: number
  readonly kvHeads: number
  readonly headDim: number
  readonly intermediate: number
}

/** Projection input/output sizes (a Linear weight is [out, in]). */
export const projectionDims = (w: ProjectionWidths, module: ProjectionName): { in: number; out: number } => {
  const q = w.heads * w.headDim
  const kv = w.kvHeads * w.headDim
  switch (module) {
    case "q_proj": return { in: w.hidden, out: q }
    case "k_proj": case "v_proj": return { in: w.hidden, out: kv }
    case "o_proj": return { in: q, out: w.hidden }
    case "gate_proj": case "up_proj": return { in: w.hidden, out: w.intermediate }
    case "down_proj": return { in: w.intermediate, out: w.hidden }
  }
}
