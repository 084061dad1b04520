import { Flag } from "effect/cli"
import { backendNames } from "../gpu/backend-names.ts"

/** Flags shared by the commands that load a model. */
export const modelFlag = Flag.String("model").pipe(
  Flag.withDescription("Hugging Face Qwen3 folder: config.json, model.safetensors (or shards + index), tokenizer.json")
)
export const backendFlag = Flag.Literals("backend", backendNames).pipe(
  Flag.withDescription("Tensor backend: auto picks webgpu (GPU via Dawn/Vulkan), then tensorflow (tfjs-node, if installed), wasm, cpu"),
  Flag.withDefault("auto" as const)
)
export const adapterFlag = Flag.String("adapter").pipe(
  Flag.withDescription("PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors) to apply"),
  Flag.withDefault("")
)
