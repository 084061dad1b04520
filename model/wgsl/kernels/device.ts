/**
 * A WebGPU device through Dawn (npm `webgpu`, an optional dependency) with what fleuve's
 * kernels need turned on: f16 in shaders, subgroups, and tensor-core subgroup matrices where
 * the adapter offers them (`chromium-experimental-subgroup-matrix`, behind allow_unsafe_apis).
 */

/** One matrix shape the tensor cores take (f16 × f16 → f32 is what fleuve uses). */
export interface SubgroupMatrixConfig {
  readonly componentType: string
  readonly resultComponentType: string
  readonly M: number
  readonly N: number
  readonly K: number
}

export interface Gpu {
  /** Destroys the device and lets dawn.node go (see `live`), so the process can exit. */
  readonly close: () => void
  readonly device: GPUDevice
  readonly adapter: { readonly vendor: string; readonly architecture: string; readonly device: string; readonly description: string }
  readonly features: ReadonlyArray<string>
  readonly hasF16: boolean
  readonly subgroupMatrixConfigs: ReadonlyArray<SubgroupMatrixConfig>
  readonly maxStorageBufferBindingSize: number
  readonly maxBufferSize: number
  /** the adapter's subgroup sizes, where it says (Dawn: GPUAdapterInfo.subgroupMinSize/MaxSize) */
  readonly subgroupSizes?: { readonly min: number; readonly max: number }
}

export type OpenGpu = { readonly _tag: "Ready"; readonly gpu: Gpu } | { readonly _tag: "Unavailable"; readonly reason: string }

/**
 * FLEUVE_DAWN_ROBUSTNESS=off adds disable_robustness: Tint then no longer clamps every storage
 * index (benchmarks measure what the clamps cost the decoding GEMVs' loads; kernels stay in bounds
 * on their own, the tests check them with the clamps on). FLEUVE_DAWN_TIMESTAMPS=exact turns off
 * Dawn's timestamp_quantization (timestamps rounded down to 2^16 ns: a profile of 10-µs decoding
 * dispatches then counts quanta crossed, not time).
 */
export const DAWN_TOGGLES = [
  `enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia${process.env.FLEUVE_DAWN_ROBUSTNESS === "off" ? ",disable_robustness" : ""}`,
  ...(process.env.FLEUVE_DAWN_TIMESTAMPS === "exact" ? ["disable-dawn-features=timestamp_quantization"] : [])
]

export const WANTED_FEATURES: ReadonlyArray<string> = ["shader-f16", "subgroups", "chromium-experimental-subgroup-matrix", "timestamp-query"]

export interface OpenGpuOptions {
  /** optional features to turn on where the adapter offers them (default: WANTED_FEATURES) */
  readonly features?: ReadonlyArray<string>
  /** Dawn toggles passed to `create` (default: DAWN_TOGGLES) */
  readonly toggles?: ReadonlyArray<string>
}

/**
 * The objects `create` returned, for every Gpu not yet closed. dawn.node tears its implementation
 * down once that object is garbage-collected, even while a device made from it is in use:
 * pipelines and waits then die in the driver's threads (std::system_error, futex errors, SIGSEGV —
 * seen on the H100). Callers keep the device, not the instance, so this module holds it.
 */
const live = new Set<GPU>()

/** Opens the first high-performance adapter, or says why none is there (no Dawn, no Vulkan, no GPU). */
export const openGpu = async (options: OpenGpuOptions = {}): Promise<OpenGpu> => {
  let create: (flags: Array<string>) => GPU
  let globals: object
  try {
    ;({ create, globals } = await import("webgpu"))
  } catch (e) {
    return { _tag: "Unavailable", reason: `npm package webgpu (Dawn) does not load: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}` }
  }
  Object.assign(globalThis, globals)
  const gpu = create([...(options.toggles ?? DAWN_TOGGLES)])
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" })
  if (!adapter) return { _tag: "Unavailable", reason: "no WebGPU adapter (Dawn found no Vulkan GPU: driver, ICD or libvulkan missing)" }
  const features = [...adapter.features].map(String)
  const requiredFeatures = (options.features ?? WANTED_FEATURES).filter((f) => features.includes(f)) as Array<GPUFeatureName>
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
      maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: adapter.limits.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: adapter.limits.maxComputeWorkgroupSizeX,
      maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage
    }
  })
  live.add(gpu)
  return {
    _tag: "Ready",
    gpu: gpuFromDevice(device, adapter.info, requiredFeatures, () => {
      device.destroy()
      live.delete(gpu)
    })
  }
}

/**
 * A Gpu over a device someone already created with `features` turned on (openGpu, or the device
 * tfjs' WebGPU backend computes on, so that fleuve's kernels and tfjs share one device and its
 * memory). `close` is what closing means for its owner: a shared device is not the borrower's to
 * destroy.
 */
export const gpuFromDevice = (device: GPUDevice, adapterInfo: GPUAdapterInfo, features: ReadonlyArray<string>, close: () => void): Gpu => {
  const info = adapterInfo as GPUAdapterInfo & { subgroupMatrixConfigs?: ReadonlyArray<SubgroupMatrixConfig>; subgroupMinSize?: number; subgroupMaxSize?: number }
  return {
    close,
    device,
    adapter: { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description },
    features: [...features],
    hasF16: features.includes("shader-f16"),
    subgroupMatrixConfigs: features.includes("chromium-experimental-subgroup-matrix")
      ? [...(info.subgroupMatrixConfigs ?? [])].map((c) => ({ componentType: c.componentType, resultComponentType: c.resultComponentType, M: c.M, N: c.N, K: c.K }))
      : [],
    maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
    maxBufferSize: device.limits.maxBufferSize,
    ...(info.subgroupMinSize && info.subgroupMaxSize ? { subgroupSizes: { min: info.subgroupMinSize, max: info.subgroupMaxSize } } : {})
  }
}

/** Threads a one-dimensional workgroup may have on this device: the lesser of its invocation and x-size limits. */
export const maxWorkgroupThreads = (gpu: Gpu): number => Math.min(gpu.device.limits.maxComputeInvocationsPerWorkgroup, gpu.device.limits.maxComputeWorkgroupSizeX)

/** The f16 × f16 → f32 tensor-core shape to use: square 16 if offered, else square 8, else none. */
export const pickMatrixConfig = (gpu: Gpu): SubgroupMatrixConfig | undefined => {
  const ok = gpu.subgroupMatrixConfigs.filter((c) => c.componentType === "f16" && c.resultComponentType === "f32" && c.M === c.N && c.N === c.K)
  return ok.find((c) => c.M === 16) ?? ok.find((c) => c.M === 8)
}
