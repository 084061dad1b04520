import { Flag } from "effect/cli"
import { backendNames, scoringEngineNames } from "../../model/names.ts"
import { withDefaultSaid } from "./defaults.ts"

/** Flags shared by the commands that load a model. */
export const modelFlag = Flag.String("model").pipe(
  Flag.withDescription("Hugging Face Qwen3 folder: config.json, model.safetensors (or shards + index), tokenizer.json (required)")
)
export const backendFlag = Flag.Literals("backend", backendNames).pipe(
  Flag.withDescription(withDefaultSaid(
    "Tensor backend: auto picks webgpu (GPU via Dawn/Vulkan), then tensorflow (tfjs-node, if installed), then cpu-fused (fleuve's fused CPU Qwen3: WebAssembly SIMD on every core; trains and scores), wasm (scoring only), cpu. " +
      "Measured on a loaded 2-core box (BENCHMARKS.md, bench/cpu): on the demo's model cpu-fused scores 1.9-3.9x and LoRA-trains 2.6-3.2x PyTorch f32's tokens/s, DAPT 0.5-1.0x; " +
      "7.3-9.5x (DAPT) and 3.0-6.0x (LoRA) the cpu backend's training tokens/s; on a 2-layer Qwen3-0.6B slice 0.4x PyTorch's wall-clock rate (0.6-0.7x per CPU-second). The choice and why are printed on stderr",
    "auto" as const
  )),
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
