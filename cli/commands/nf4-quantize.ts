import { Argument, Command, Flag } from "effect/cli"
import { DEFAULT_INCLUDE } from "../../model/names.ts"
import { type ArgsOf, lazyHandler } from "../lazy.ts"

const config = {
  input: Argument.String("checkpoint").pipe(
    Argument.withDescription("A .safetensors file, or a model folder with model.safetensors or model.safetensors.index.json (shards)")
  ),
  out: Flag.String("out").pipe(Flag.withDescription("NF4 safetensors file to write (bitsandbytes' 4-bit layout, see docs/gpu.md)")),
  doubleQuant: Flag.Boolean("double-quant").pipe(
    Flag.withDescription("Also quantise the per-block absmax values to 8 bits in blocks of 256 (QLoRA's double quantisation)"),
    Flag.withDefault(false)
  ),
  include: Flag.optional(Flag.String("include")).pipe(
    Flag.withDescription(`Regular expression: weights whose names match are quantised (default ${DEFAULT_INCLUDE.source}: the linear layers); others are copied`)
  )
}
export type Nf4QuantizeArgs = ArgsOf<typeof config>

export const nf4QuantizeCommand = Command.make("nf4-quantize", config, (args) => lazyHandler(() => import("../handlers/nf4-quantize.ts"), (h) => h.nf4QuantizeHandler(args))).pipe(
  Command.withDescription(
    "Quantise a checkpoint once to NF4 (QLoRA's 4-bit NormalFloat, bit-exact with bitsandbytes: blocks of 64 with an absmax each), " +
      "written as one safetensors file that fleuve, bitsandbytes and transformers load directly."
  ),
  Command.withExamples([
    { command: "fleuve nf4-quantize models/Qwen3-14B --out qwen3-14b-nf4.safetensors --double-quant", description: "Quantise the linear layers of a sharded checkpoint, QLoRA style" },
    { command: "fleuve nf4-quantize model.safetensors --out model-nf4.safetensors --include 'proj\\.weight$|lm_head'", description: "Choose which weights to quantise" }
  ])
)
