import { Flag } from "effect/cli"
import { backendNames, scoringEngineNames } from "../../model/names.ts"
import { withDefaultSaid } from "./defaults.ts"

/** Flags shared by the commands that load a model. */
export const modelFlag = Flag.String("model").pipe(
  Flag.withDescription("Hugging Face Qwen3 folder: config.json, model.safetensors (or shards + index), tokenizer.json (required)")
)
export const backendFlag = Flag.Literals("backend", backendNames).pipe(
  Flag.withDescription(withDefaultSaid("Tensor backend: auto picks webgpu (GPU via Dawn/Vulkan), then tensorflow (tfjs-node, if installed), wasm, cpu", "auto" as const)),
  Flag.withDefault("auto" as const)
)
export const adapterFlag = Flag.String("adapter").pipe(
  Flag.withDescription(withDefaultSaid("PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors) to apply", "")),
  Flag.withDefault("")
)
export const engineFlag = Flag.Literals("engine", scoringEngineNames).pipe(
  Flag.withDescription(
    "Scoring and generation path: auto uses fleuve's WGSL engine (f16 weights, tensor cores; for generation its decoder with a KV cache) when the backend is webgpu with subgroup matrices and the model's sizes fit it, " +
      "else the tfjs runtime; wgsl requires the engine (fails, saying why, where it cannot run); tfjs always uses the tfjs runtime. " +
      "Default: FLEUVE_SCORING_ENGINE, else auto. The chosen path is printed on stderr."
  ),
  Flag.optional
)
