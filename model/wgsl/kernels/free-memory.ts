/**
 * How much GPU memory can be allocated right now. WebGPU reports no free-memory figure, so this
 * asks the only way it can: by allocating.
 */

import { isOutOfMemory } from "./buffers.ts"

const STORAGE = 0x80 // GPUBufferUsage.STORAGE, without the global

/**
 * Allocates storage buffers of `chunkBytes` (the last one smaller) until `wantedBytes` are held or
 * an allocation fails, then frees them all; returns the bytes it held (≤ wantedBytes).
 *
 * - One out-of-memory error scope per allocation, so the one that failed is known and the bytes
 *   before it count. A buffer that cannot be allocated comes back as an error object and reports to
 *   the scope; some failures throw instead (a RangeError from Dawn), counted the same.
 * - It never probes more than asked: on SwiftShader (Vulkan on the CPU) buffers are host memory that
 *   the OS hands out lazily, so a probe "to the end" would find far more than is really there.
 * - After destroying, it submits an empty command buffer and waits for the queue: Dawn frees a
 *   destroyed buffer's memory only once the queue has completed the submission after it (seen on
 *   the H100: a second probe right after the first, without the wait, found 0 bytes; on the H200
 *   the wait alone was not enough either while nothing had been submitted since).
 */
export const probeFreeGpuMemory = async (device: GPUDevice, options: { readonly wantedBytes: number; readonly chunkBytes?: number }): Promise<number> => {
  const wanted = Math.max(0, Math.floor(options.wantedBytes))
  // a multiple of 4 (buffer sizes must be), and no larger than the device lets one buffer be
  const chunk = Math.max(4, Math.floor(Math.min(options.chunkBytes ?? 2 ** 30, device.limits.maxBufferSize) / 4) * 4)
  const held: Array<GPUBuffer> = []
  let bytes = 0
  try {
    while (bytes < wanted) {
      const size = Math.ceil(Math.min(chunk, wanted - bytes) / 4) * 4
      device.pushErrorScope("out-of-memory")
      let buffer: GPUBuffer
      try {
        buffer = device.createBuffer({ size, usage: STORAGE })
      } catch (e) {
        await device.popErrorScope()
        if (isOutOfMemory(e) || e instanceof RangeError) break
        throw e
      }
      const failed = await device.popErrorScope()
      if (failed) {
        buffer.destroy()
        break
      }
      held.push(buffer)
      bytes += size
    }
  } finally {
    for (const b of held) b.destroy()
    device.queue.submit([device.createCommandEncoder().finish()])
    await device.queue.onSubmittedWorkDone()
  }
  return Math.min(bytes, wanted)
}
