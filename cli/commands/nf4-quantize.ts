import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { DEFAULT_INCLUDE, quantizeCheckpoint } from "../../gpu/quant/nf4-checkpoint.ts"
import { QuantizeError } from "../../gpu/quant/errors.ts"
import { reportFailure } from "../common.ts"

export const nf4QuantizeCommand = Command.make(
  "nf4-quantize",
  {
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
  },
  ({ input, out, doubleQuant, include }) =>
    Effect.gen(function*() {
      const pattern = yield* Effect.try({
        try: () => Option.match(include, { onNone: () => DEFAULT_INCLUDE, onSome: (s) => new RegExp(s) }),
        catch: (e) => new QuantizeError({ message: `--include: not a regular expression (${e instanceof Error ? e.message : String(e)})` })
      })
      let last = 0
      const report = yield* Effect.try({
        try: () =>
          quantizeCheckpoint(input, out, {
            include: pattern,
            doubleQuant,
            onTensor: (name, i, total, quantized) => {
              if (Date.now() - last > 2000 || i + 1 === total) {
                last = Date.now()
                process.stderr.write(`nf4-quantize: ${i + 1}/${total} ${quantized ? "quantising" : "copying"} ${name}\n`)
              }
            }
          }),
        catch: (e) => new QuantizeError({ message: e instanceof Error ? e.message : String(e) })
      })
      yield* Console.log(`${out}: ${report.quantized} tensors in NF4${doubleQuant ? " (double-quantised absmax)" : ""}, ${report.copied} copied, ${(report.bytes / 2 ** 20).toFixed(1)} MiB`)
    }).pipe(Effect.catchTag("QuantizeError", reportFailure))
).pipe(
  Command.withDescription(
    "Quantise a checkpoint once to NF4 (QLoRA's 4-bit NormalFloat, bit-exact with bitsandbytes: blocks of 64 with an absmax each), " +
      "written as one safetensors file that fleuve, bitsandbytes and transformers load directly."
  ),
  Command.withExamples([
    { command: "fleuve nf4-quantize models/Qwen3-14B --out qwen3-14b-nf4.safetensors --double-quant", description: "Quantise the linear layers of a sharded checkpoint, QLoRA style" },
    { command: "fleuve nf4-quantize model.safetensors --out model-nf4.safetensors --include 'proj\\.weight$|lm_head'", description: "Choose which weights to quantise" }
  ])
)
