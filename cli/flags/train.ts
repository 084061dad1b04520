import { Flag } from "effect/cli"
import { scoringEngineNames } from "../../model/names.ts"
import { defaultLoraConfig } from "../../model/names.ts"
import { projectionNames } from "../../model/names.ts"
import { type ArgsOf } from "../lazy.ts"
import { backendFlag, modelFlag } from "./model-selection.ts"
import { withDefaultSaid } from "./defaults.ts"
import { maxRecordBytesFlag } from "./max-record-bytes.ts"

export const common = {
  model: modelFlag,
  backend: backendFlag,
  data: Flag.String("data").pipe(Flag.withDescription(
    "Training data: .txt (one document per line), or JSONL with {text} (packed, DAPT) or {prompt, answer} (only the answer is a target) (required)"
  )),
  out: Flag.String("out").pipe(Flag.withDescription("Output folder: checkpoint-NNNNNN/ every --checkpoint-every steps, final/ at the end; an existing checkpoint is resumed (required)")),
  seqLen: Flag.Int("seq-len").pipe(Flag.withDescription(withDefaultSaid("Tokens per training sequence", 512)), Flag.withDefault(512)),
  steps: Flag.Int("steps").pipe(Flag.withDescription(withDefaultSaid("Optimizer steps (0: one epoch)", 0)), Flag.withDefault(0)),
  microBatch: Flag.Int("micro-batch").pipe(Flag.withDescription(withDefaultSaid("Sequences per forward/backward pass", 1)), Flag.withDefault(1)),
  gradAccum: Flag.Int("grad-accum").pipe(Flag.withDescription(withDefaultSaid("Micro-batches per optimizer step (effective batch = micro-batch x grad-accum)", 16)), Flag.withDefault(16)),
  lr: Flag.Finite("lr").pipe(Flag.withDescription(withDefaultSaid("Peak learning rate (cosine schedule, linear warmup)", 2e-4)), Flag.withDefault(2e-4)),
  warmupRatio: Flag.Finite("warmup-ratio").pipe(Flag.withDescription(withDefaultSaid("Share of steps spent warming up", 0.03)), Flag.withDefault(0.03)),
  weightDecay: Flag.Finite("weight-decay").pipe(Flag.withDescription(withDefaultSaid("AdamW decoupled weight decay", 0.01)), Flag.withDefault(0.01)),
  maxGradNorm: Flag.Finite("max-grad-norm").pipe(Flag.withDescription(withDefaultSaid("Clip gradients to this global L2 norm", 1)), Flag.withDefault(1)),
  checkpointEvery: Flag.Int("checkpoint-every").pipe(Flag.withDescription(withDefaultSaid("Save a resumable checkpoint every N steps (0: only at the end). A lost GPU device is reopened and the run resumed from the last one (from step 0 without)", 0)), Flag.withDefault(0)),
  seed: Flag.Int("seed").pipe(Flag.withDescription(withDefaultSaid("Seed of the data order, LoRA init and dropout", 42)), Flag.withDefault(42)),
  maxRecordBytes: maxRecordBytesFlag,
  engine: Flag.Literals("engine", scoringEngineNames).pipe(
    Flag.withDescription(withDefaultSaid("Training path: auto uses fleuve's WGSL trainer — LoRA (f16 base, tensor cores, LoRA dropout as PEFT; on an H100 59–65% of PyTorch bf16 + peft's LoRA throughput and 51–57% on an NF4 base, the tfjs runtime 0.2%: BENCHMARKS.md) " +
        "or, for dapt, full-parameter (f32 weights and AdamW, f16 compute copies; on an H100 41–43% of PyTorch's full fine-tuning with bf16 autocast on the same tokens, Qwen3-0.6B and 1.7B shapes) — when the backend is webgpu with subgroup matrices " +
        "and the model's sizes fit its kernels, else the tfjs runtime; " +
        "wgsl requires the WGSL trainer (fails, saying why, where it cannot run); tfjs always uses the tfjs runtime. The chosen path and why are printed on stderr. " +
        "Checkpoints are the same on both paths: a run resumes on either", "auto" as const)),
    Flag.withDefault("auto" as const)
  )
}

export type DaptArgs = ArgsOf<typeof common>

export const loraConfig = {
  ...common,
  r: Flag.Int("r").pipe(Flag.withDescription(withDefaultSaid("LoRA rank", defaultLoraConfig.r)), Flag.withDefault(defaultLoraConfig.r)),
  alpha: Flag.Finite("alpha").pipe(Flag.withDescription(withDefaultSaid("LoRA alpha (scale = alpha / r)", defaultLoraConfig.alpha)), Flag.withDefault(defaultLoraConfig.alpha)),
  dropout: Flag.Finite("dropout").pipe(
    Flag.withDescription(withDefaultSaid("Dropout on the LoRA input, a mask per layer and projection as PEFT (the tfjs runtime and the WGSL trainer draw different masks at the same rate)", defaultLoraConfig.dropout)),
    Flag.withDefault(defaultLoraConfig.dropout)
  ),
  targets: Flag.String("targets").pipe(Flag.withDescription(withDefaultSaid("Comma-separated projections", projectionNames.join(","))), Flag.withDefault(projectionNames.join(","))),
  nf4: Flag.Boolean("nf4").pipe(Flag.withDescription(
    "QLoRA: the frozen base quantised to NF4 (blocks of 64, absmax each, as bitsandbytes) as it is uploaded to the GPU, about a quarter of f16's weight memory; the model folder is read as it is and the adapter saved as any other. " +
      "fleuve's WGSL trainer only (--engine wgsl or auto on webgpu with tensor cores): an error on the tfjs runtime"
  ), Flag.withDefault(false))
}
export type LoraArgs = ArgsOf<typeof loraConfig>

export const mergeFlags = {
  model: modelFlag,
  backend: backendFlag,
  adapter: Flag.String("adapter").pipe(Flag.withDescription("PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors) trained on --model (required)")),
  out: Flag.String("out").pipe(Flag.withDescription("Output folder: a plain Hugging Face checkpoint (config.json, model.safetensors, tokenizer) with the adapter merged in (required)")),
  dtype: Flag.Literals("dtype", ["f32", "bf16"] as const).pipe(Flag.withDescription(withDefaultSaid("Weight type written", "f32" as const)), Flag.withDefault("f32" as const))
}
export type MergeArgs = ArgsOf<typeof mergeFlags>
