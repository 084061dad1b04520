import { Flag } from "effect/cli"
import { type ArgsOf } from "../lazy.ts"

export const gpuBundleFlags = {
  out: Flag.String("out").pipe(Flag.withDescription("Archive to write: FILE.tar.xz (smallest) or FILE.tar.gz (faster to build) (required)")),
  vulkanDeb: Flag.optional(Flag.String("vulkan-deb")).pipe(
    Flag.withDescription("libvulkan1 .deb to take the Vulkan loader from (default: .cache/gpu/libvulkan1_*.deb, fetched by scripts/setup/40-libvulkan-deb.sh)")
  )
}
export type GpuBundleArgs = ArgsOf<typeof gpuBundleFlags>
