import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { existsSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { buildGpuBundle } from "../../gpu/bundle/gpu-bundle.ts"
import { GpuBundleError } from "../../gpu/bundle/errors.ts"
import { reportFailure } from "../common.ts"

// The source checkout this command runs from (cli/commands/ → repository root).
const sourceRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..")

export const gpuBundleCommand = Command.make(
  "gpu-bundle",
  {
    out: Flag.String("out").pipe(Flag.withDescription("Archive to write: FILE.tar.xz (smallest) or FILE.tar.gz (faster to build)")),
    vulkanDeb: Flag.optional(Flag.String("vulkan-deb")).pipe(
      Flag.withDescription("libvulkan1 .deb to take the Vulkan loader from (default: .cache/gpu/libvulkan1_*.deb, fetched by scripts/setup/40-libvulkan-deb.sh)")
    )
  },
  ({ out, vulkanDeb }) =>
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
).pipe(
  Command.withDescription(
    "Build one archive that runs fleuve on a GPU host without network: the Node binary, the application bundled into one file, " +
      "dawn.node (WebGPU over Vulkan) and the Vulkan loader, with run.sh and a README. The host needs only the NVIDIA driver and its Vulkan ICD."
  ),
  Command.withExamples([
    { command: "fleuve gpu-bundle --out fleuve-gpu.tar.xz", description: "Build the archive (xz: about 60 MiB)" },
    { command: "fleuve gpu-bundle --out fleuve-gpu.tar.gz --vulkan-deb ./libvulkan1_1.3.239.0-1_amd64.deb", description: "gzip, with a Vulkan loader package you downloaded" }
  ])
)
