import { Console, Effect, Option } from "effect"
import { existsSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { buildGpuBundle } from "../../tools/gpu-bundle/gpu-bundle.ts"
import { GpuBundleError } from "../../tools/gpu-bundle/errors.ts"
import { reportFailure } from "../common.ts"
import type { GpuBundleArgs } from "../flags/gpu-bundle.ts"

// The source checkout this command runs from (cli/handlers/ → repository root).
const sourceRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..")

export const gpuBundleHandler = ({ out, vulkanDeb }: GpuBundleArgs) =>
  Effect.gen(function*() {
    if (!existsSync(join(sourceRoot, "cli", "main.ts"))) {
      return yield* new GpuBundleError({ message: "gpu-bundle runs from a source checkout (it bundles cli/main.ts), not from inside a bundle" })
    }
    const built = yield* Effect.tryPromise({
      try: () =>
        buildGpuBundle({
          out,
          root: sourceRoot,
          vulkanDeb: Option.getOrUndefined(vulkanDeb),
          progress: (line) => process.stderr.write(`gpu-bundle: ${line}\n`)
        }),
      catch: (e) => new GpuBundleError({ message: e instanceof Error ? e.message : String(e) })
    })
    const m = built.manifest
    yield* Console.log(
      `${built.out}: ${(built.bytes / 2 ** 20).toFixed(1)} MiB (node ${m.node}, webgpu ${m.webgpu}, libvulkan ${m.libvulkan}); ` +
        `on the GPU host: tar -xf ${built.out.split("/").at(-1)} && ./fleuve/run.sh --help`
    )
  }).pipe(Effect.catchTag("GpuBundleError", reportFailure))
