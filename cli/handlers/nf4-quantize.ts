import { Console, Effect, Option } from "effect"
import { DEFAULT_INCLUDE, QuantizeError, quantizeCheckpoint } from "../../pipelines/quantize.ts"
import { reportFailure } from "../common.ts"
import type { Nf4QuantizeArgs } from "../flags/nf4-quantize.ts"

export const nf4QuantizeHandler = ({ input, out, doubleQuant, include }: Nf4QuantizeArgs) =>
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
