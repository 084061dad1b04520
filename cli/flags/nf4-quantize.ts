import { Argument, Flag } from "effect/cli"
import { DEFAULT_INCLUDE } from "../../model/names.ts"
import { type ArgsOf } from "../lazy.ts"
import { withDefaultSaid } from "./defaults.ts"

export const nf4QuantizeFlags = {
  input: Argument.String("checkpoint").pipe(
    Argument.withDescription("A .safetensors file, or a model folder with model.safetensors or model.safetensors.index.json (shards)")
  ),
  out: Flag.String("out").pipe(Flag.withDescription("NF4 safetensors file to write (bitsandbytes' 4-bit layout, see docs/gpu.md) (required)")),
  doubleQuant: Flag.Boolean("double-quant").pipe(
    Flag.withDescription(withDefaultSaid("Also quantise the per-block absmax values to 8 bits in blocks of 256 (QLoRA's double quantisation)", false)),
    Flag.withDefault(false)
  ),
  include: Flag.optional(Flag.String("include")).pipe(
    Flag.withDescription(`Regular expression: weights whose names match are quantised (default ${DEFAULT_INCLUDE.source}: the linear layers); others are copied`)
  )
}
export type Nf4QuantizeArgs = ArgsOf<typeof nf4QuantizeFlags>
