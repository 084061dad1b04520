import { Command } from "effect/cli"
import { lazyHandler } from "../lazy.ts"
import { nf4QuantizeFlags } from "../flags/nf4-quantize.ts"

export const nf4QuantizeCommand = Command.make("nf4-quantize", nf4QuantizeFlags, (args) => lazyHandler(() => import("../handlers/nf4-quantize.ts"), (h) => h.nf4QuantizeHandler(args))).pipe(
  Command.withDescription(
    "Quantise a checkpoint once to NF4 (QLoRA's 4-bit NormalFloat, bit-exact with bitsandbytes: blocks of 64 with an absmax each), " +
      "written as one safetensors file that fleuve, bitsandbytes and transformers load directly."
  ),
  Command.withExamples([
    { command: "fleuve nf4-quantize models/Qwen3-14B --out qwen3-14b-nf4.safetensors --double-quant", description: "Quantise the linear layers of a sharded checkpoint, QLoRA style" },
    { command: "fleuve nf4-quantize model.safetensors --out model-nf4.safetensors --include 'proj\\.weight$|lm_head'", description: "Choose which weights to quantise" }
  ])
)
