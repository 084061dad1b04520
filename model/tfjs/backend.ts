import * as tf from "@tensorflow/tfjs-core"
// A named import, not a bare one: the package marks itself side-effect free, so bundlers drop bare imports.
import { version_cpu } from "@tensorflow/tfjs-backend-cpu"
import { existsSync, readdirSync } from "node:fs"
import { createRequire } from "node:module"
import { homedir } from "node:os"
import { dirname, join } from "node:path"
import { type BackendName, backendNames } from "./backend-names.ts"
import type { DeviceLossInfo } from "./device-loss.ts"
import { fusedCpuActive, setFusedCpuChosen } from "../cpu/active.ts"
import type { Gpu } from "../wgsl/kernels/device.ts"

export { type BackendName, backendNames }

/** The backend fleuve computes on, and the device behind it, to print and to record. */
export interface BackendChoice {
  readonly backend: Exclude<BackendName, "auto">
  readonly device: string
  /** Why the automatic choice passed over faster backends (empty when one was forced). */
  readonly skipped: ReadonlyArray<string>
}

export class BackendUnavailable extends Error {
  constructor(readonly backend: string, readonly reason: string) {
    super(`backend '${backend}' is not available: ${reason}`)
  }
}

const require = createRequire(import.meta.url)

/**
 * How tfjs computes on WebGPU: "fleuve" (default) puts fleuve's tensor-core kernels in place of
 * tfjs' stock ones where the adapter offers subgroup matrices (model/tfjs/webgpu-kernels.ts);
 * "stock" keeps tfjs' kernels only (FLEUVE_WEBGPU_KERNELS=stock), for comparisons.
 */
export const webgpuKernelChoice = (): "fleuve" | "stock" => (process.env.FLEUVE_WEBGPU_KERNELS === "stock" ? "stock" : "fleuve")

/**
 * WebGPU in Node: Dawn from npm `webgpu` (Vulkan on Linux). The unsafe-API toggle exposes
 * shader-f16, subgroups and subgroup matrices on NVIDIA. fleuve creates the device itself (tfjs'
 * own factory asks for none of those features) and hands it to tfjs' WebGPUBackend. The object
 * `create` returns must stay referenced for as long as the device is used (dawn.node tears down
 * otherwise), hence `navigator.gpu`.
 */
const tryWebgpu = async (): Promise<string> => {
  // Without a Vulkan driver Dawn only prints the loader's "found no drivers" warnings to stderr.
  const noDriver = missingVulkanDriver()
  if (noDriver) throw new Error(noDriver)
  const dawn: { create: (flags: Array<string>) => unknown; globals: object } = await import("webgpu" as string)
  const { DAWN_TOGGLES, gpuFromDevice } = await import("../wgsl/kernels/device.ts")
  const gpu = dawn.create([...DAWN_TOGGLES]) as GPU
  Object.assign(globalThis, dawn.globals)
  Object.defineProperty(globalThis, "navigator", { value: { gpu }, configurable: true, writable: true })
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" })
  if (!adapter) throw new Error("Dawn found no GPU adapter (is libvulkan1 installed and a Vulkan driver visible?)")
  const info = adapter.info
  const webgpu = await import("@tensorflow/tfjs-backend-webgpu")
  const { REQUIRED_FEATURES, registerWebgpuKernels } = await import("./webgpu-kernels.ts")
  const offered = [...adapter.features].map(String)
  const tensorCores = webgpuKernelChoice() === "fleuve" && REQUIRED_FEATURES.every((f) => offered.includes(f))
  const limits = adapter.limits
  const device = await adapter.requestDevice({
    requiredFeatures: [...(tensorCores ? REQUIRED_FEATURES : []), ...(offered.includes("timestamp-query") ? ["timestamp-query"] : [])] as Array<GPUFeatureName>,
    requiredLimits: {
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
      // fleuve's WGSL engine shares this device (webgpuEngineGpu): ask what openGpu asks
      maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage
    }
  })
  // A loss reported by this device, and only while it is tfjs' (a device given up is not watched).
  webgpuLost = undefined
  void device.lost.then((info) => {
    if (webgpuDeviceNow === device) webgpuLost = { reason: String(info.reason), message: info.message || "no message" }
  })
  webgpuDeviceNow = device
  // Re-registering drops the previous backend, with the tensors of a lost device.
  if (tf.findBackendFactory("webgpu")) tf.removeBackend("webgpu")
  tf.registerBackend("webgpu", () => new webgpu.WebGPUBackend(device, adapter.info), 3)
  if (tensorCores) registerWebgpuKernels()
  if (!(await tf.setBackend("webgpu"))) throw new Error("tfjs could not initialise the webgpu backend")
  // The device is tfjs' (it destroys nothing of it): the engine borrows it, so closing is a no-op.
  engineGpu = tensorCores
    ? { _tag: "Ready", gpu: gpuFromDevice(device, adapter.info, [...device.features].map(String), () => {}) }
    : {
      _tag: "Unavailable",
      reason: webgpuKernelChoice() === "stock"
        ? "FLEUVE_WEBGPU_KERNELS=stock keeps the device without subgroup matrices"
        : `the adapter lacks ${REQUIRED_FEATURES.filter((f) => !offered.includes(f)).join(", ")} (no tensor cores for the WGSL engine)`
    }
  const name = [info.vendor, info.architecture, info.device, info.description].filter((s) => s).join(" ") || "WebGPU adapter"
  return `${name}, ${tensorCores ? "fleuve tensor-core matmul (f16 × f16 → f32)" : "tfjs stock kernels"}`
}

/**
 * Why Dawn cannot find a Vulkan driver here (no ICD manifest where the Linux loader looks, and no
 * VK_DRIVER_FILES / VK_ICD_FILENAMES / VK_ADD_DRIVER_FILES), or undefined when one may be there.
 */
export const missingVulkanDriver = (): string | undefined => {
  if (process.platform !== "linux") return undefined
  if (["VK_DRIVER_FILES", "VK_ICD_FILENAMES", "VK_ADD_DRIVER_FILES"].some((v) => process.env[v])) return undefined
  const dataDirs = (process.env.XDG_DATA_DIRS || "/usr/local/share:/usr/share").split(":")
  const configDirs = (process.env.XDG_CONFIG_DIRS || "/etc/xdg").split(":")
  const dirs = [...configDirs, "/etc", ...dataDirs, join(homedir(), ".local/share")].map((d) => join(d, "vulkan/icd.d"))
  const found = dirs.some((d) => existsSync(d) && readdirSync(d).some((f) => f.endsWith(".json")))
  return found ? undefined : "no GPU: no Vulkan driver on this machine (no ICD manifest in /usr/share/vulkan/icd.d, /etc/vulkan/icd.d, …)"
}

/** tfjs-node(-gpu): used only when already installed; it needs network at install time and CUDA 11.2. */
const tryTensorflow = async (): Promise<string> => {
  for (const pkg of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
    try {
      require.resolve(pkg)
    } catch {
      continue
    }
    await import(pkg)
    if (await tf.setBackend("tensorflow")) return `libtensorflow via ${pkg}`
  }
  throw new Error("neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed")
}

const tryWasm = async (): Promise<string> => {
  const wasm = await import("@tensorflow/tfjs-backend-wasm")
  // In Node the .wasm binaries are read from the package's dist folder.
  wasm.setWasmPaths(`${dirname(require.resolve("@tensorflow/tfjs-backend-wasm"))}/`)
  if (!(await tf.setBackend("wasm"))) throw new Error("tfjs could not initialise the wasm backend")
  return "CPU (WebAssembly, XNNPACK)"
}

/**
 * fleuve's fused CPU path (model/cpu/): tfjs' cpu backend holds the tensors; Qwen3's forward,
 * backward and loss run as fleuve's kernels — WebAssembly SIMD on worker threads where the
 * runtime has them, else plain JavaScript.
 */
const tryCpuFused = async (): Promise<string> => {
  await tryCpu()
  const { loadCpuKernels } = await import("../cpu/select.ts")
  const k = await loadCpuKernels()
  return `CPU (fleuve fused Qwen3 kernels: ${k.name})`
}

const tryCpu = async (): Promise<string> => {
  if (!(await tf.setBackend("cpu"))) throw new Error("tfjs could not initialise the cpu backend")
  // Its first-use banner recommends tfjs-node; fleuve chose this backend on purpose.
  ;(tf.backend() as unknown as { firstUse: boolean }).firstUse = false
  return `CPU (plain JavaScript, tfjs-backend-cpu ${version_cpu})`
}

const attempts: Record<Exclude<BackendName, "auto">, () => Promise<string>> = {
  webgpu: tryWebgpu,
  tensorflow: tryTensorflow,
  "cpu-fused": tryCpuFused,
  wasm: tryWasm,
  cpu: tryCpu
}

let current: BackendChoice | undefined

/** The device tryWebgpu made last, and its loss once Dawn reports one. */
let webgpuDeviceNow: GPUDevice | undefined
let webgpuLost: DeviceLossInfo | undefined
/** How many times a lost device was replaced: tensors made before the last replacement are gone. */
let replacements = 0
let reopening: Promise<BackendChoice> | undefined

/** The tfjs WebGPU device as fleuve's kernels see it, or why they cannot use it; set by tryWebgpu. */
let engineGpu: { readonly _tag: "Ready"; readonly gpu: Gpu } | { readonly _tag: "Unavailable"; readonly reason: string } | undefined

/**
 * The device tfjs computes on, for fleuve's WGSL engine: defined only while the chosen backend is
 * webgpu and its device has subgroup matrices (tensor cores), f16 and subgroups turned on.
 * Sharing it keeps one device, one memory pool, and lets the engine read tfjs' weights.
 */
export const webgpuEngineGpu = (): Gpu | undefined =>
  current?.backend === "webgpu" && tf.getBackend() === "webgpu" && engineGpu?._tag === "Ready" ? engineGpu.gpu : undefined

/**
 * The WebGPU device tfjs computes on, with or without tensor cores (webgpuEngineGpu(), only there
 * with them, shares this device); undefined while the tensor backend is not webgpu.
 */
export const webgpuDevice = (): GPUDevice | undefined =>
  tf.getBackend() === "webgpu" ? (tf.backend() as unknown as { readonly device?: GPUDevice }).device : undefined

/** Why webgpuEngineGpu() is undefined (undefined when it is not). */
export const webgpuEngineUnavailable = (): string | undefined => {
  if (webgpuEngineGpu()) return undefined
  if (current === undefined) return "no tensor backend chosen yet"
  if (current.backend !== "webgpu" || tf.getBackend() !== "webgpu") return `the tensor backend is ${current.backend === "cpu-fused" ? current.backend : (tf.getBackend() ?? current.backend)}, not webgpu`
  return engineGpu?._tag === "Unavailable" ? engineGpu.reason : "the webgpu device is not shared"
}

/**
 * Picks the backend: the one asked for, or the first that works of webgpu, tensorflow, cpu-fused, wasm, cpu.
 * Asked-for backends that fail raise BackendUnavailable: a silent fallback would make a GPU run
 * quietly slow and its timings wrong.
 */
export const selectBackend = async (wanted: BackendName = "auto", purpose: "inference" | "training" = "inference"): Promise<BackendChoice> => {
  // tfjs-backend-wasm has no UnsortedSegmentSum kernel (the embedding's gradient): it cannot
  // train, so an automatic choice for training never lands on it.
  const usable = (name: BackendName) => purpose === "inference" || name !== "wasm"
  if (current && ((wanted === "auto" && usable(current.backend)) || wanted === current.backend)) return current
  if (wanted !== "auto") {
    try {
      const device = await attempts[wanted]()
      await tf.ready()
      current = { backend: wanted, device, skipped: [] }
      setFusedCpuChosen(current.backend === "cpu-fused")
      return current
    } catch (e) {
      throw new BackendUnavailable(wanted, e instanceof Error ? e.message : String(e))
    }
  }
  const skipped: Array<string> = []
  for (const name of ["webgpu", "tensorflow", "cpu-fused", "wasm", "cpu"] as const) {
    if (!usable(name)) {
      skipped.push(`${name}: cannot train (no gradient kernel for embeddings)`)
      continue
    }
    try {
      const device = await attempts[name]()
      await tf.ready()
      current = { backend: name, device, skipped }
      setFusedCpuChosen(current.backend === "cpu-fused")
      return current
    } catch (e) {
      skipped.push(`${name}: ${e instanceof Error ? e.message : String(e)}`)
    }
  }
  throw new BackendUnavailable("auto", skipped.join("; "))
}

/**
 * Counts the lost devices replaced so far (reopenWebgpu): a model loaded when it was lower holds
 * tensors of a device that is gone, and must be loaded again (model/runtime/model-handle.ts).
 */
export const deviceReplacements = (): number => replacements

/** Errors that a lost device makes (Dawn rejects reads with an AbortError); others are not waited on. */
const mayBeLoss = (e: unknown): boolean => e instanceof Error && /abort|lost|destroy|device/i.test(`${e.name} ${e.message}`)

/**
 * Whether `e` came from losing the WebGPU device: the loss already reported, or, for an error of
 * the kind a loss makes, reported within `waitMs` (Dawn may reject a read before it resolves
 * `device.lost`). Undefined when the backend is not webgpu or the device is fine.
 */
export const deviceLossBehind = async (e: unknown, waitMs = 500): Promise<DeviceLossInfo | undefined> => {
  if (current?.backend !== "webgpu" || !webgpuDeviceNow) return undefined
  if (webgpuLost || !mayBeLoss(e)) return webgpuLost
  const device = webgpuDeviceNow
  let timer: ReturnType<typeof setTimeout> | undefined
  await Promise.race([device.lost, new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))])
  clearTimeout(timer)
  // device.lost's own handler (tryWebgpu) has run by now if the race ended on it
  await Promise.resolve()
  return webgpuLost
}

/**
 * Replaces a lost WebGPU device: a new adapter and device with the same features, a new tfjs
 * backend on it (fleuve's kernels registered again), and deviceReplacements() one higher. Calls
 * made while one replacement runs share it; with the device not lost it changes nothing.
 */
export const reopenWebgpu = (): Promise<BackendChoice> => {
  if (reopening) return reopening
  if (!current || current.backend !== "webgpu") return Promise.reject(new BackendUnavailable("webgpu", "the tensor backend is not webgpu: there is no device to reopen"))
  if (!webgpuLost) return Promise.resolve(current)
  const skipped = current.skipped
  reopening = (async () => {
    try {
      const device = await tryWebgpu()
      await tf.ready()
      replacements++
      current = { backend: "webgpu", device, skipped }
      setFusedCpuChosen(current.backend === "cpu-fused")
      return current
    } catch (e) {
      throw new BackendUnavailable("webgpu", `the device was lost and could not be reopened: ${e instanceof Error ? e.message : String(e)}`)
    } finally {
      reopening = undefined
    }
  })()
  return reopening
}

/** Whether Qwen3Model runs on fleuve's fused CPU path (the cpu-fused backend is the current one). */
export { fusedCpuActive }

/** One line: the backend, its device, and for an automatic choice why the faster ones were passed over. */
export const describeBackend = (c: BackendChoice): string =>
  `backend ${c.backend} on ${c.device}${c.skipped.length > 0 ? ` (auto; passed over: ${c.skipped.join("; ")})` : ""}`
