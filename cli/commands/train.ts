import { Command } from "effect/cli"
import { lazyHandler } from "../lazy.ts"
import { common, loraConfig } from "../flags/train.ts"

const dapt = Command.make("dapt", common, (args) => lazyHandler(() => import("../handlers/train.ts"), (h) => h.daptHandler(args))).pipe(
  Command.withDescription("Domain-adaptive pre-training: full fine-tuning with the causal-LM loss on packed sequences; saves a Hugging Face checkpoint"),
  Command.withExamples([{ command: "fleuve train dapt --model ./Qwen3-0.6B --data corpus.jsonl --out ./dapt --seq-len 1024 --checkpoint-every 100", description: "DAPT on a JSONL corpus of {text}" }])
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

export const trainCommand = Command.make("train").pipe(
  Command.withDescription("Train a Qwen3 checkpoint: DAPT (full fine-tuning) or LoRA; AdamW, cosine schedule with warmup, gradient accumulation, clipping, exact resume"),
  Command.withExamples([
    { command: "fleuve train dapt --model ./Qwen3-0.6B --data corpus.jsonl --out ./dapt", description: "Continued pre-training on {text} records" },
    { command: "fleuve train lora --model ./dapt/final --data qa.jsonl --out ./adapter", description: "A LoRA adapter on {prompt, answer} records" }
  ]),
  Command.withSubcommands([dapt, lora])
)
