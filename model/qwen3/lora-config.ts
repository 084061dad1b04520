import { attentionModules, mlpModules, type ProjectionName } from "./projections.ts"

/** LoRA settings, PEFT's names in parentheses. Defaults are the EnMed protocol's. */
export interface LoraConfig {
  readonly r: number
  readonly alpha: number // lora_alpha
  readonly dropout: number // lora_dropout
  readonly targetModules: ReadonlyArray<ProjectionName>
}

export const defaultLoraConfig: LoraConfig = {
  r: 16,
  alpha: 32,
  dropout: 0.05,
  targetModules: [...attentionModules, ...mlpModules]
}
