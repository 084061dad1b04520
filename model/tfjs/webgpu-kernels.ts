import * as tf from "@tensorflow/tfjs-core"
import { batchMatmulWgsl, fitsTensorCores, TILE } from "../wgsl/kernels/batch-matmul.ts"
import { pipelineNow } from "../wgsl/kernels/buffers.ts"

/**
 * fleuve's WGSL kernels registered as tfjs kernels for the webgpu backend, so the Qwen3 runtime,
 * scoring, generation and training (through tfjs' autodiff: the gradient of a matmul is two
 * matmuls) run on them with no change to the model code.
 *
 * - `BatchMatMul`: the tensor-core kernel of model/wgsl/kernels/batch-matmul.ts where the shape fits it
 *   (M, N multiples of 64, K of 32); the stock tfjs kernel otherwise.
 *
 * tfjs-backend-webgpu builds every shader from its own template (no `enable` directives), so
 * these kernels encode their dispatch themselves on the backend's device and command stream,
 * through the same internals its own kernels use (tfjs-backend-webgpu 4.22: tensorMap,
 * commandQueueOwnedIds, computePassEncoder, makeUniforms). The device must have been created with
 * shader-f16, subgroups and chromium-experimental-subgroup-matrix (model/tfjs/backend.ts does).
 */

/** The parts of tfjs-backend-webgpu's WebGPUBackend these kernels use. */
interface WebgpuBackendInternals {
  readonly device: GPUDevice
  readonly tensorMap: { get(dataId: object): { resource: GPUBuffer | null; dtype: string } }
  readonly commandQueueOwnedIds: WeakSet<object>
  commandEncoder: GPUCommandEncoder | null
  computePassEncoder: GPUComputePassEncoder | null
  dispatchCountInPass: number
  makeTensorInfo(shape: ReadonlyArray<number>, dtype: tf.DataType): tf.TensorInfo
  uploadToGPU(dataId: object): void
  ensureCommandEncoderReady(): void
  endComputePassEncoder(): void
  submitQueue(): void
  makeUniforms(u: Array<{ type: "uint32"; data: Array<number> }>): GPUBufferBinding
}

export const REQUIRED_FEATURES = ["shader-f16", "subgroups", "chromium-experimental-subgroup-matrix"] as const

export interface KernelUse {
  /** dispatches that ran on fleuve's tensor-core kernel */
  tensorCore: number
  /** calls left to the stock kernel (shape or dtype not taken) */
  stock: number
}

/** Counts, for benchmarks and tests: which kernel ran how often since registration. */
export const kernelUse: KernelUse = { tensorCore: 0, stock: 0 }

// WGSL per transpose pair, generated once (the pipeline cache is keyed by source)
const sources = new Map<string, string>()
const pipelineFor = (device: GPUDevice, transposeA: boolean, transposeB: boolean): GPUComputePipeline => {
  const key = `${transposeA}-${transposeB}`
  let code = sources.get(key)
  if (!code) sources.set(key, (code = batchMatmulWgsl(transposeA, transposeB)))
  return pipelineNow(device, code, `fleuve-batch-matmul-${key}`)
}

/** Encodes one dispatch on the backend's current compute pass, as its own programs do. */
const dispatch = (backend: WebgpuBackendInternals, pipeline: GPUComputePipeline, entries: Array<GPUBindingResource>, groups: readonly [number, number, number], owned: ReadonlyArray<object>) => {
  const bindGroup = backend.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: entries.map((resource, binding) => ({ binding, resource })) })
  for (const id of owned) backend.commandQueueOwnedIds.add(id)
  backend.ensureCommandEncoderReady()
  if (!backend.computePassEncoder) backend.computePassEncoder = backend.commandEncoder!.beginComputePass({})
  backend.computePassEncoder.setPipeline(pipeline)
  backend.computePassEncoder.setBindGroup(0, bindGroup)
  backend.computePassEncoder.dispatchWorkgroups(...groups)
  backend.dispatchCountInPass++
  if ((tf.env().get("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE") as number) <= backend.dispatchCountInPass) {
    backend.endComputePassEncoder()
    backend.submitQueue()
  }
}

/**
 * The product's shape with batch dims flattened, or undefined where the batch dims broadcast in a
 * way one flat stride cannot express (equal batch shapes, or one operand with a batch of 1, only).
 */
export const batchMatmulShape = (aShape: ReadonlyArray<number>, bShape: ReadonlyArray<number>, transposeA: boolean, transposeB: boolean) => {
  if (aShape.length < 2 || bShape.length < 2) return undefined
  const size = (dims: ReadonlyArray<number>) => dims.reduce((x, y) => x * y, 1)
  const [ra, ca] = aShape.slice(-2) as [number, number]
  const [rb, cb] = bShape.slice(-2) as [number, number]
  const batchShapeA = aShape.slice(0, -2)
  const batchShapeB = bShape.slice(0, -2)
  const batchA = size(batchShapeA)
  const batchB = size(batchShapeB)
  const sameBatch = batchShapeA.length === batchShapeB.length && batchShapeA.every((d, i) => d === batchShapeB[i])
  if (!sameBatch && batchA !== 1 && batchB !== 1) return undefined
  const M = transposeA ? ca : ra
  const K = transposeA ? ra : ca
  const N = transposeB ? rb : cb
  if ((transposeB ? cb : rb) !== K) return undefined
  const outBatch = batchA > batchB ? batchShapeA : batchB > batchA ? batchShapeB : batchShapeA.length >= batchShapeB.length ? batchShapeA : batchShapeB
  return { batch: Math.max(batchA, batchB), M, N, K, batchA, batchB, outShape: [...outBatch, M, N] }
}

let registered = false
let tensorCoresOn = true

/**
 * Turns the registered tensor-core kernel off (every BatchMatMul to the stock kernel) and on
 * again, within one process: for diagnoses that compare the two on the same weights.
 */
export const useTensorCoreMatmul = (on: boolean): void => {
  tensorCoresOn = on
}

/** Whether the tensor-core kernel is in place of tfjs' (the adapter had subgroup matrices and FLEUVE_WEBGPU_KERNELS was not "stock"). */
export const webgpuKernelsRegistered = (): boolean => registered

/**
 * Replaces the webgpu backend's BatchMatMul with the tensor-core kernel (falling back to the
 * stock one per call). Idempotent. Call after tfjs-backend-webgpu is imported.
 */
export const registerWebgpuKernels = (): void => {
  if (registered) return
  const stock = tf.getKernel("BatchMatMul", "webgpu")
  if (!stock) throw new Error("tfjs-backend-webgpu is not loaded: no stock BatchMatMul kernel to wrap")
  tf.unregisterKernel("BatchMatMul", "webgpu")
  tf.registerKernel({
    kernelName: "BatchMatMul",
    backendName: "webgpu",
    kernelFunc: (args) => {
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo }
      const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean }
      const backend = args.backend as unknown as WebgpuBackendInternals
      // tfjs hands the op's tensors over as they are (rank 2 to 4); batch dims are flattened here
      const shape = batchMatmulShape(a.shape, b.shape, transposeA, transposeB)
      const takes = tensorCoresOn && shape !== undefined && a.dtype === "float32" && b.dtype === "float32" && fitsTensorCores(shape)
      if (!takes) {
        kernelUse.stock++
        return stock.kernelFunc(args)
      }
      kernelUse.tensorCore++
      const { batch, M, N, K, batchA, batchB, outShape } = shape!
      const out = backend.makeTensorInfo(outShape, "float32")
      for (const t of [a, b, out]) backend.uploadToGPU(t.dataId)
      const buffer = (t: tf.TensorInfo) => ({ buffer: backend.tensorMap.get(t.dataId).resource! })
      const uniforms = backend.makeUniforms([{ type: "uint32", data: [M] }, { type: "uint32", data: [N] }, { type: "uint32", data: [K] },
        { type: "uint32", data: [batchA === 1 ? 0 : M * K] }, { type: "uint32", data: [batchB === 1 ? 0 : K * N] }])
      dispatch(backend, pipelineFor(backend.device, transposeA, transposeB), [buffer(out), buffer(a), buffer(b), uniforms], [N / TILE, M / TILE, batch], [a.dataId, b.dataId, out.dataId])
      return out
    }
  })
  registered = true
}
