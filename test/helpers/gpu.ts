import { existsSync } from "node:fs"
import { openGpu, type Gpu } from "../../model/wgsl/kernels/device.ts"

/** SwiftShader's Vulkan ICD, shipped with Debian's chromium (scripts/setup/20-chromium.sh installs it). */
export const SWIFTSHADER_ICD = "/usr/lib/chromium/vk_swiftshader_icd.json"

export type TestGpu = { readonly gpu: Gpu; readonly software: boolean; readonly skip: false } | { readonly skip: string }

/**
 * A GPU for kernel tests: the real adapter where there is one, else SwiftShader (Vulkan on the CPU)
 * so that f32 kernels are checked on CI too. SwiftShader has subgroups but neither shader-f16 nor
 * subgroup matrices: tests of f16 and tensor-core kernels skip there, saying so
 * (`needs(gpu, "f16")`). FLEUVE_NO_SOFTWARE_GPU=1 turns the fallback off.
 */
export const openTestGpu = async (): Promise<TestGpu> => {
  process.env.XDG_RUNTIME_DIR ??= "/tmp" // the Vulkan loader's warning without it is noise in test output
  const real = await openGpu()
  if (real._tag === "Ready") return { gpu: real.gpu, software: false, skip: false }
  if (process.env.FLEUVE_NO_SOFTWARE_GPU === "1" || !existsSync(SWIFTSHADER_ICD)) return { skip: real.reason }
  // The Vulkan loader reads these when Dawn creates its next instance.
  process.env.VK_DRIVER_FILES = SWIFTSHADER_ICD
  const soft = await openGpu()
  return soft._tag === "Ready" ? { gpu: soft.gpu, software: true, skip: false } : { skip: `${real.reason}; SwiftShader: ${soft.reason}` }
}

/** A skip reason when the adapter lacks what a test needs, else false. */
export const needs = (gpu: Gpu, what: "f16" | "tensor-cores"): string | false =>
  what === "f16"
    ? gpu.hasF16 ? false : `${gpu.adapter.description || "this adapter"} has no shader-f16`
    : gpu.subgroupMatrixConfigs.length > 0 ? false : `${gpu.adapter.description || "this adapter"} has no subgroup matrices (tensor cores)`
