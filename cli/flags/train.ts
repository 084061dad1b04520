import { Flag } from "effect/cli"
import { scoringEngineNames } from "../../model/names.ts"
import { defaultLoraConfig } from "../../model/names.ts"
import { projectionNames } from "../../model/names.ts"
import { type ArgsOf } from "../lazy.ts"
import { backendFlag, modelFlag } from "./model-selection.ts"

export const common = {
  model: modelFlag,
  backend: backendFlag,
  data: Flag.String("data").pipe(Flag.withDescription(
    "Training data: .txt (one document per line), or JSONL with {text} (packed, DAPT) or {prompt, answer} (only the answer is a target)"
  )),
  out: Flag.String("out").pipe(Flag.withDescription("Output folder: checkpoint-NNNNNN/ every --checkpoint-every steps, final/ at the end; an existing checkpoint is resumed")),
  seqLen: Flag.Int("seq-len").pipe(Flag.withDescription("Tokens per training sequence"), Flag.withDefault(512)),
  steps: Flag.Int("steps").pipe(Flag.withDescription("Optimizer steps (0: one epoch)"), Flag.withDefault(0)),
  microBatch: Flag.Int("micro-batch").pipe(Flag.withDescription("Sequences per forward/backward pass"), Flag.withDefault(1)),
  gradAccum: Flag.Int("grad-accum").pipe(Flag.withDescription("Micro-batches per optimizer step (effective batch = micro-batch x grad-accum)"), Flag.withDefault(16)),
  lr: Flag.Finite("lr").pipe(Flag.withDescription("Peak learning rate (cosine schedule, linear warmup)"), Flag.withDefault(2e-4)),
  warmupRatio: Flag.Finite("warmup-ratio").pipe(Flag.withDescription("Share of steps spent warming up"), Flag.withDefault(0.03)),
  weightDecay: Flag.Finite("weight-decay").pipe(Flag.withDescription("AdamW decoupled weight decay"), Flag.withDefault(0.01)),
  maxGradNorm: Flag.Finite("max-grad-norm").pipe(Flag.withDescription("Clip gradients to this global L2 norm"), Flag.withDefault(1)),
  checkpointEvery: Flag.Int("checkpoint-every").pipe(Flag.withDescription("Save a resumable checkpoint every N steps (0: only at the end). A lost GPU device is reopened and the run resumed from the last one (from step 0 without)"), Flag.withDefault(0)),
  seed: Flag.Int("seed").pipe(Flag.withDescription("Seed of the data order, LoRA init and dropout"), Flag.withDefault(42)),
  engine: Flag.Literals("engine", scoringEngineNames).pipe(
    Flag.withDescription(
      "Training path: auto uses fleuve's WGSL LoRA trainer (f16 base, tensor cores, LoRA dropout as PEFT; on an H100 35% of PyTorch bf16's LoRA throughput, the tfjs runtime 0.2%: BENCHMARKS.md) when the backend is webgpu with subgroup matrices, " +
        "the run is LoRA and the model's sizes fit its kernels, else the tfjs runtime; " +
        "wgsl requires the WGSL trainer (fails, saying why, where it cannot run); tfjs always uses the tfjs runtime. The chosen path and why are printed on stderr. " +
        "Checkpoints are the same on both paths: a run resumes on either"
    ),
    Flag.withDefault("auto" as const)
  )
}

export type DaptArgs = ArgsOf<typeof common>

export const loraConfig = {
  ...common,
  r: Flag.Int("r").pipe(Flag.withDescription("LoRA rank"), Flag.withDefault(defaultLoraConfig.r)),
  alpha: Flag.Finite("alpha").pipe(Flag.withDescription("LoRA alpha (scale = alpha / r)"), Flag.withDefault(defaultLoraConfig.alpha)),
  dropout: Flag.Finite("dropout").pipe(
    Flag.withDescription("Dropout on the LoRA input, a mask per layer and projection as PEFT (the tfjs runtime and the WGSL trainer draw different masks at the same rate)"),
    Flag.withDefault(defaultLoraConfig.dropout)
  ),
  targets: Flag.String("targets").pipe(Flag.withDescription("Comma-separated projections"), Flag.withDefault(projectionNames.join(",")))
}
export type LoraArgs = ArgsOf<typeof loraConfig>
