/**
 * fleuve's model library: Qwen3 checkpoints, tokenizers and safetensors/NF4 formats, the tfjs
 * runtime (cpu, wasm, webgpu), fleuve's WGSL engine, trainer and decoder, and the training loops.
 * It imports nothing else of fleuve but lib/. Code outside model/ imports this file (or, for flag
 * lists that must not load tfjs, model/names.ts), never a file inside: what is exported here is
 * the library's interface.
 */
export * from "./names.ts"
export * from "./formats/safetensors.ts"
export * from "./formats/nf4-checkpoint.ts"
export * from "./formats/nf4-errors.ts"
export * from "./formats/tokenizer/tokenizer.ts"
export * from "./qwen3/config.ts"
export * from "./qwen3/checkpoint.ts"
export * from "./qwen3/lora.ts"
export * from "./tfjs/backend.ts"
export * from "./tfjs/device-loss.ts"
export * from "./tfjs/qwen3-model.ts"
export * from "./runtime/model-handle.ts"
export * from "./runtime/scoring.ts"
export * from "./runtime/generate.ts"
export * from "./runtime/heldout-loss.ts"
export * from "./train/trainer.ts"
export * from "./train/datasets.ts"
export * from "./train/engine-train.ts"
export * from "./qwen3/random-init.ts"
