/**
 * Losing the WebGPU device: a driver reset, an Xid fault, a GPU fallen off the bus, or the device
 * destroyed from outside. Every buffer on it is gone, tfjs' tensors and the engine's weights with
 * them, and nothing submitted afterwards runs (reads reject with an AbortError). A lost device is
 * never found again: recovering means a new device, a new tfjs backend and the model loaded anew
 * from where it came from (model/runtime/model-handle.ts does that, model/tfjs/backend.ts reopens the device).
 */

/** What Dawn said when the device went: GPUDeviceLostInfo's reason ("unknown", "destroyed") and message. */
export interface DeviceLossInfo {
  readonly reason: string
  readonly message: string
}

/** The WebGPU device was lost while fleuve used it, and was not (or could no longer be) recovered. */
export class GpuDeviceLost extends Error {
  constructor(readonly info: DeviceLossInfo, readonly while_: string, detail = "") {
    super(`the GPU device was lost while ${while_} (reason '${info.reason}': ${info.message})${detail ? `; ${detail}` : ""}`)
  }
}

/** One line for the log when a loss is recovered from. */
export const describeLoss = (info: DeviceLossInfo, while_: string): string => `GPU device lost while ${while_} (reason '${info.reason}': ${info.message})`
