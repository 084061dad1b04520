import { Command } from "effect/cli"
import { lazyHandler } from "../lazy.ts"
import { gpuBundleFlags } from "../flags/gpu-bundle.ts"

export const gpuBundleCommand = Command.make("gpu-bundle", gpuBundleFlags, (args) => lazyHandler(() => import("../handlers/gpu-bundle.ts"), (h) => h.gpuBundleHandler(args))).pipe(
  Command.withDescription(
    "Build one archive that runs fleuve on a GPU host without network: the Node binary, the application bundled into one file, " +
      "dawn.node (WebGPU over Vulkan) and the Vulkan loader, with run.sh and a README. The host needs only the NVIDIA driver and its Vulkan ICD."
  ),
  Command.withExamples([
    { command: "fleuve gpu-bundle --out fleuve-gpu.tar.xz", description: "Build the archive (xz: about 60 MiB)" },
    { command: "fleuve gpu-bundle --out fleuve-gpu.tar.gz --vulkan-deb ./libvulkan1_1.3.239.0-1_amd64.deb", description: "gzip, with a Vulkan loader package you downloaded" }
  ])
)
