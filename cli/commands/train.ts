import { Command } from "effect/cli"
import { lazyHandler } from "../lazy.ts"
import { common, loraConfig, mergeFlags } from "../flags/train.ts"

const dapt = Command.make("dapt", common, (args) => lazyHandler(() => import("../handlers/train.ts"), (h) => h.daptHandler(args))).pipe(
  Command.withDescription(
    "Domain-adaptive pre-training: full fine-tuning with the causal-LM loss on packed sequences — every weight trains, the (tied) embeddings and norms included; saves a Hugging Face checkpoint. " +
      "On fleuve's WGSL trainer (--engine auto|wgsl, webgpu with tensor cores): f32 weights, gradients and AdamW moments on the GPU (16 bytes a parameter) with f16 compute copies; " +
      "the memory is estimated first and the micro-batch halved until it fits, or the run refused saying how much it needs (Qwen3-0.6B and 1.7B fit an 80 GB card; larger models: LoRA on all projections, then `fleuve train merge`)"
  ),
  Command.withExamples([
    { command: "fleuve train dapt --model ./Qwen3-0.6B --data corpus.jsonl --out ./dapt --seq-len 1024 --checkpoint-every 100", description: "DAPT on a JSONL corpus of {text}" },
    { command: "fleuve train dapt --model ./Qwen3-1.7B --data corpus.jsonl --out ./dapt --backend webgpu --engine wgsl --seq-len 1024 --micro-batch 8 --grad-accum 2", description: "DAPT on fleuve's WGSL full-parameter trainer (fails, saying why, where it cannot run)" }
  ])
)

const lora = Command.make("lora", loraConfig, (args) => lazyHandler(() => import("../handlers/train.ts"), (h) => h.loraHandler(args))).pipe(
  Command.withDescription("LoRA fine-tuning as PEFT does it (y = Wx + alpha/r * B A dropout(x)); saves adapter_model.safetensors + adapter_config.json that PEFT loads"),
  Command.withExamples([
    { command: "fleuve train lora --model ./Qwen3-0.6B --data qa.jsonl --out ./adapter --seq-len 512 --checkpoint-every 50", description: "LoRA on {prompt, answer} records, r=16, alpha=32" },
    {
      command: "fleuve train lora --model ./Qwen3-0.6B --data qa.jsonl --out ./adapter --backend webgpu --engine wgsl --micro-batch 16 --grad-accum 1",
      description: "LoRA on fleuve's WGSL trainer (tensor cores; fails, saying why, where it cannot run)"
    }
  ])
)

const merge = Command.make("merge", mergeFlags, (args) => lazyHandler(() => import("../handlers/train.ts"), (h) => h.mergeHandler(args))).pipe(
  Command.withDescription("Merge a LoRA adapter into its base (W + alpha/r B A) and save a plain checkpoint: how DAPT trained by LoRA (for a model whose full fine-tuning does not fit the GPU, e.g. 14B over NF4) becomes the base of the next adapters"),
  Command.withExamples([
    { command: "fleuve train lora --model ./Qwen3-0.6B --data corpus.jsonl --out ./dapt-lora --backend webgpu --engine wgsl --seq-len 1024 --micro-batch 16 --grad-accum 1", description: "DAPT by LoRA on all projections over the packed corpus, on the WGSL trainer" },
    { command: "fleuve train merge --model ./Qwen3-0.6B --adapter ./dapt-lora/final --out ./dapt --dtype bf16", description: "then merge it: ./dapt is the base of the task adapters" }
  ])
)

export const trainCommand = Command.make("train").pipe(
  Command.withDescription("Train a Qwen3 checkpoint: DAPT (full fine-tuning) or LoRA, and merge an adapter into its base; AdamW, cosine schedule with warmup, gradient accumulation, clipping, exact resume"),
  Command.withExamples([
    { command: "fleuve train dapt --model ./Qwen3-0.6B --data corpus.jsonl --out ./dapt", description: "Continued pre-training on {text} records" },
    { command: "fleuve train lora --model ./dapt/final --data qa.jsonl --out ./adapter", description: "A LoRA adapter on {prompt, answer} records" }
  ]),
  Command.withSubcommands([dapt, lora, merge])
)
