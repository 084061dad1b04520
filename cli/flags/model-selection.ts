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
      "Measured on a quiet 2-core box (BENCHMARKS.md, bench/cpu): on the demo's model cpu-fused trains 20x (full) and 8-12x (LoRA) and scores 8-12x faster than the cpu backend, " +
      "and reaches 0.36-0.70x (training) and 0.41-0.68x (scoring) of PyTorch f32's tokens/s on the same 2 cores. The choice and why are printed on stderr",
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

/**
 * The flags that name a --model system of the evaluation grid: `fleuve reeval` scores it, and a
 * scorer worker (`fleuve worker predict --pipeline evaluate-<system>`) takes the same flags so that
 * its model is the one reeval's requests name.
 */
export const modelSystemFlags = {
  model: Flag.String("model").pipe(Flag.withDescription("A Qwen3 checkpoint folder (config.json, *.safetensors, tokenizer.json) to score as one more system (options on fleuve's WGSL engine or the tfjs runtime: see --engine); a scorer worker takes the folder given to reeval"), Flag.optional),
  modelName: Flag.String("model-name").pipe(Flag.withDescription("System name for --model (default: the folder name)"), Flag.optional),
  backend: Flag.Literals("backend", ["auto", "webgpu", "tensorflow", "wasm", "cpu"]).pipe(Flag.withDescription(withDefaultSaid("tfjs backend for --model", "auto")), Flag.withDefault("auto")),
  engine: engineFlag
}
