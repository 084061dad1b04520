import { copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { loadTokenizer, type TextTokenizer } from "../formats/tokenizer/tokenizer.ts"
import { readCheckpointWeights, writeSafetensors } from "../formats/safetensors.ts"
import { readQwen3Config } from "./config.ts"
import { Qwen3Model } from "../tfjs/qwen3-model.ts"
import { hostWeights } from "../wgsl/host-weights.ts"

/** A model folder loaded for scoring, generation or training. */
export interface LoadedModel {
  readonly dir: string
  readonly model: Qwen3Model
  readonly tokenizer: TextTokenizer
  readonly rawConfig: Record<string, unknown>
}

/**
 * Loads a Hugging Face Qwen3 folder: config.json, model.safetensors or sharded weights
 * (f32/f16/bf16, computed in f32) and tokenizer.json. `trainable` makes every weight a variable
 * (full fine-tuning); LoRA keeps them constant.
 */
export const loadModelDir = (dir: string, options: { readonly trainable?: boolean } = {}): LoadedModel => {
  const { config, raw } = readQwen3Config(dir)
  if (!existsSync(join(dir, "tokenizer.json"))) throw new Error(`${dir}: no tokenizer.json`)
  const tokenizer = loadTokenizer(dir)
  const weights = readCheckpointWeights(dir)
  const model = Qwen3Model.fromHost(config, weights, options)
  return { dir, model, tokenizer, rawConfig: raw }
}

/** Files beside the weights that a saved checkpoint keeps so that it loads anywhere, Python included. */
const companionFiles = ["tokenizer.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json"]

/** Saves a full checkpoint in the Hugging Face layout (config.json + model.safetensors + tokenizer). */
export const saveModelDir = async (loaded: LoadedModel, outDir: string, options: { readonly dtype?: "F32" | "BF16" } = {}): Promise<void> => {
  mkdirSync(outDir, { recursive: true })
  const dtype = options.dtype ?? "F32"
  writeSafetensors(join(outDir, "model.safetensors"), await loaded.model.toHost(), { dtype, metadata: { format: "pt" } })
  writeFileSync(join(outDir, "config.json"), JSON.stringify({ ...loaded.rawConfig, dtype: dtype === "F32" ? "float32" : "bfloat16" }, null, 2))
  for (const f of companionFiles) if (existsSync(join(loaded.dir, f)) && loaded.dir !== outDir) copyFileSync(join(loaded.dir, f), join(outDir, f))
}

/**
 * Saves the model with every attached LoRA pair merged into its projection (W + alpha/r · B·A) as a
 * plain checkpoint in the Hugging Face layout: what a stage trained by LoRA (DAPT of a model whose
 * full fine-tuning does not fit the GPU) hands to the next stage as its base. Loads without the adapter
 * and scores as base + adapter does (test/model/merge.test.ts).
 */
export const saveMergedModelDir = async (loaded: LoadedModel, outDir: string, options: { readonly dtype?: "F32" | "BF16" } = {}): Promise<{ readonly merged: number }> => {
  mkdirSync(outDir, { recursive: true })
  const dtype = options.dtype ?? "F32"
  const merged = loaded.model.lora.size
  const weights = await hostWeights(loaded.model, { mergeLora: true })
  const host = new Map([...weights].map(([name, data]) => {
    const shape = loaded.model.params.get(name)?.shape
    if (!shape) throw new Error(`merged weight '${name}' is not a parameter of the model`)
    return [name, { shape, data }] as const
  }))
  writeSafetensors(join(outDir, "model.safetensors"), host, { dtype, metadata: { format: "pt" } })
  writeFileSync(join(outDir, "config.json"), JSON.stringify({ ...loaded.rawConfig, dtype: dtype === "F32" ? "float32" : "bfloat16" }, null, 2))
  for (const f of companionFiles) if (existsSync(join(loaded.dir, f)) && loaded.dir !== outDir) copyFileSync(join(loaded.dir, f), join(outDir, f))
  return { merged }
}
