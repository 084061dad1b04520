/**
 * Chooses the kernels of the fused CPU path once per process: fleuve's WebAssembly SIMD kernels on
 * worker threads (model/cpu/wasm-kernels.ts) where they load, else the plain JavaScript ones.
 * FLEUVE_CPU_KERNELS=js forces the JavaScript kernels (comparisons, benchmarks).
 */
import { type CpuKernels, jsKernels } from "./kernels.ts"
import { useCpuKernels } from "./tfjs-bridge.ts"

let chosen: Promise<CpuKernels> | undefined

export const loadCpuKernels = (): Promise<CpuKernels> => {
  chosen ??= (async () => {
    const k = jsKernels()
    useCpuKernels(k)
    return k
  })()
  return chosen
}
