import * as tf from "@tensorflow/tfjs-core"

/**
 * The parts of tfjs-backend-webgpu's WebGPUBackend (4.22) used here: its BufferManager keeps every
 * buffer a disposed tensor leaves in `freeBuffers`, keyed by exact size and usage, for reuse, and
 * never gives one back to the device on its own.
 */
interface PoolInternals {
  readonly bufferManager?: { freeBuffers?: Map<string, Array<GPUBuffer>>; numFreeBuffers: number; numBytesAllocated: number }
  readonly commandEncoder?: GPUCommandEncoder | null
  readonly endComputePassEncoder?: () => void
  /** submits the recorded commands and moves the buffers of tensors disposed meanwhile into the pool */
  readonly submitQueue?: () => void
}

/**
 * Destroys the buffers tfjs' WebGPU pool holds for reuse (those of at least `minBytes`), so their
 * memory goes back to the device; returns the bytes released (0 off webgpu).
 *
 * Why: greedy generation grows the KV cache by one position a step, so each step's cache has a
 * size no later step asks for again, and the pool would keep every step's old cache: memory
 * quadratic in the generated length (Qwen3-0.6B, 1 row, 512 → 576 tokens: ~8 GB). After an
 * out-of-memory it also drops the failed allocations' error buffers, which would poison any
 * tensor that reused them. The map's keys stay: tfjs' releaseBuffer ignores releases while the
 * map is empty.
 */
export const releasePooledBuffers = (minBytes = 0): number => {
  if (tf.getBackend() !== "webgpu") return 0
  const backend = tf.backend() as unknown as PoolInternals
  const manager = backend.bufferManager
  if (!manager?.freeBuffers) return 0
  if (backend.commandEncoder) {
    backend.endComputePassEncoder?.()
    backend.submitQueue?.()
  }
  let released = 0
  for (const list of manager.freeBuffers.values()) {
    const keep = list.filter((b) => b.size < minBytes)
    for (const b of list) {
      if (b.size < minBytes) continue
      b.destroy()
      released += b.size
    }
    manager.numFreeBuffers -= list.length - keep.length
    list.splice(0, list.length, ...keep)
  }
  manager.numBytesAllocated -= released
  return released
}
