/**
 * Chooses the kernels of the fused CPU path once per process: fleuve's WebAssembly SIMD kernels on
 * worker threads (model/cpu/wasm-kernels.ts) where they load, else the plain JavaScript ones (the
 * reason is kept for the backend's description). FLEUVE_CPU_KERNELS=js forces the JavaScript
 * kernels; FLEUVE_CPU_THREADS sets the thread count (default: the machine's cores, at most 8).
 */
import { type CpuKernels, jsKernels } from "./kernels.ts"
import { useCpuKernels } from "./tfjs-bridge.ts"
import { wasmKernels } from "./wasm-kernels.ts"

let chosen: Promise<CpuKernels> | undefined

export const loadCpuKernels = (): Promise<CpuKernels> => {
  chosen ??= (async () => {
    let k: CpuKernels
    if (process.env.FLEUVE_CPU_KERNELS === "js") k = jsKernels()
    else {
      try {
        const threads = process.env.FLEUVE_CPU_THREADS ? Number(process.env.FLEUVE_CPU_THREADS) : undefined
        if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) throw new Error(`FLEUVE_CPU_THREADS=${process.env.FLEUVE_CPU_THREADS}: expected a whole number ≥ 1`)
        k = wasmKernels(threads === undefined ? {} : { threads })
      } catch (e) {
        const js = jsKernels()
        k = { ...js, name: `${js.name} (WebAssembly kernels unavailable: ${e instanceof Error ? e.message : String(e)})` }
      }
    }
    useCpuKernels(k)
    return k
  })()
  return chosen
}
