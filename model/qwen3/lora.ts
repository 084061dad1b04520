import * as tf from "@tensorflow/tfjs-core"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { mulberry32 } from "../../lib/random.ts"
import { readSafetensors, writeSafetensors, type HostTensor } from "../formats/safetensors.ts"
import { defaultLoraConfig, type LoraConfig } from "./lora-config.ts"
import { attentionModules, mlpModules, type ProjectionName, projectionPath, projectionShape, type Qwen3Model } from "../tfjs/qwen3-model.ts"

export { defaultLoraConfig, type LoraConfig }

// PEFT's key for a LoRA matrix: base_model.model.<module path>.lora_A.weight (adapter name omitted).
const peftKey = (path: string, which: "A" | "B") => `base_model.model.${path}.lora_${which}.weight`

/**
 * Attaches fresh LoRA pairs as PEFT initialises them: A kaiming-uniform with a = √5, which is
 * U(±1/√in), B zeros, so the adapted model starts equal to the base. Seeded for reproducible runs.
 */
export const attachLora = (model: Qwen3Model, config: LoraConfig, seed: number): void => {
  const rand = mulberry32(seed)
  for (let l = 0; l < model.config.numLayers; l++) {
    for (const m of config.targetModules) {
      const { in: inDim, out } = projectionShape(model.config, m)
      const bound = 1 / Math.sqrt(inDim)
      const a = Float32Array.from({ length: config.r * inDim }, () => (2 * rand() - 1) * bound)
      attachPair(model, projectionPath(l, m), config, tf.tensor2d(a, [config.r, inDim]), tf.zeros([out, config.r]))
    }
  }
}

const attachPair = (model: Qwen3Model, path: string, config: LoraConfig, a: tf.Tensor, b: tf.Tensor) => {
  const old = model.lora.get(path)
  if (old) tf.dispose([old.a, old.b])
  // Unnamed: tfjs variable names are process-global, and several models may hold the same path.
  model.lora.set(path, {
    a: tf.variable(a, true),
    b: tf.variable(b, true),
    scale: config.alpha / config.r,
    dropout: config.dropout
  })
  tf.dispose([a, b])
}

/** The adapter's matrices on the host, under PEFT's key names. */
export const loraToHost = async (model: Qwen3Model): Promise<Map<string, HostTensor>> => {
  const out = new Map<string, HostTensor>()
  for (const [path, pair] of model.lora) {
    // asynchronous reads: WebGPU cannot read synchronously in Node
    out.set(peftKey(path, "A"), { shape: pair.a.shape, data: (await pair.a.data()) as Float32Array })
    out.set(peftKey(path, "B"), { shape: pair.b.shape, data: (await pair.b.data()) as Float32Array })
  }
  return out
}

/** adapter_config.json as PEFT writes it for a LoRA on a causal LM. */
export const peftAdapterConfig = (config: LoraConfig, baseModel: string) => ({
  peft_type: "LORA",
  task_type: "CAUSAL_LM",
  base_model_name_or_path: baseModel,
  r: config.r,
  lora_alpha: config.alpha,
  lora_dropout: config.dropout,
  target_modules: [...config.targetModules],
  bias: "none",
  fan_in_fan_out: false,
  inference_mode: true,
  init_lora_weights: true,
  modules_to_save: null,
  layers_to_transform: null,
  layers_pattern: null,
  rank_pattern: {},
  alpha_pattern: {},
  use_rslora: false,
  use_dora: false,
  revision: null
})

/** Saves adapter_model.safetensors + adapter_config.json, the layout PEFT's from_pretrained loads. */
export const saveAdapter = async (model: Qwen3Model, config: LoraConfig, dir: string, baseModel: string): Promise<void> => {
  mkdirSync(dir, { recursive: true })
  writeSafetensors(join(dir, "adapter_model.safetensors"), await loraToHost(model), { metadata: { format: "pt" } })
  writeFileSync(join(dir, "adapter_config.json"), JSON.stringify(peftAdapterConfig(config, baseModel), null, 2))
}

export class AdapterError extends Error {}

/** Loads a PEFT LoRA adapter (ours or PEFT's) onto a model; unknown or missing keys are errors. */
export const loadAdapter = (model: Qwen3Model, dir: string): LoraConfig => {
  const configFile = join(dir, "adapter_config.json")
  const weightsFile = join(dir, "adapter_model.safetensors")
  if (!existsSync(configFile) || !existsSync(weightsFile)) throw new AdapterError(`${dir}: expected adapter_config.json and adapter_model.safetensors`)
  const raw = JSON.parse(readFileSync(configFile, "utf8"))
  if (raw.peft_type !== "LORA") throw new AdapterError(`${configFile}: peft_type is ${JSON.stringify(raw.peft_type)}, fleuve loads LORA`)
  if (raw.use_dora || raw.use_rslora) throw new AdapterError(`${configFile}: DoRA and rsLoRA adapters are not supported`)
  const targets: Array<string> = typeof raw.target_modules === "string" ? [raw.target_modules] : raw.target_modules
  const known = [...attentionModules, ...mlpModules] as ReadonlyArray<string>
  const bad = targets.filter((t) => !known.includes(t))
  if (bad.length > 0) throw new AdapterError(`${configFile}: target_modules ${bad.join(", ")} are not Qwen3 projections`)
  const config: LoraConfig = { r: raw.r, alpha: raw.lora_alpha, dropout: raw.lora_dropout ?? 0, targetModules: targets as Array<ProjectionName> }
  const { tensors } = readSafetensors(weightsFile)
  // PEFT sometimes keeps the adapter name in keys (".lora_A.default.weight"): accept both.
  const get = (key: string) => tensors.get(key) ?? tensors.get(key.replace(/\.weight$/, ".default.weight"))
  let used = 0
  for (let l = 0; l < model.config.numLayers; l++) {
    for (const m of config.targetModules) {
      const path = projectionPath(l, m)
      const a = get(peftKey(path, "A"))
      const b = get(peftKey(path, "B"))
      if (!a || !b) throw new AdapterError(`${weightsFile}: no LoRA pair for ${path}`)
      const { in: inDim, out } = projectionShape(model.config, m)
      if (a.shape[0] !== config.r || a.shape[1] !== inDim || b.shape[0] !== out || b.shape[1] !== config.r) {
        throw new AdapterError(`${weightsFile}: ${path} has A ${JSON.stringify(a.shape)}, B ${JSON.stringify(b.shape)}; expected [${config.r}, ${inDim}] and [${out}, ${config.r}]`)
      }
      attachPair(model, path, config, tf.tensor2d(a.data, [config.r, inDim]), tf.tensor2d(b.data, [out, config.r]))
      used += 2
    }
  }
  if (used !== tensors.size) throw new AdapterError(`${weightsFile}: holds ${tensors.size - used} tensors that match no Qwen3 projection`)
  return config
}
