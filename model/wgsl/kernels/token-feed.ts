import { pipeline, type Binding, type Dispatch } from "./buffers.ts"
import type { Gpu } from "./device.ts"

/**
 * Greedy decoding with no host round trip a step (model/wgsl/qwen3-decoder.ts `decodeOnDevice`):
 * the step's input ids are picked on the GPU — row r's prompt token at this step, or past its
 * prompt the argmax the previous step recorded — and each step's argmax is recorded into a
 * [positions, rows] table the host reads every few steps.
 */

/** ids[r] = step < lens[r] ? prompts[r, step] : generated[step − 1, r]. params: rows, width (of prompts), step. */
export const feedIdsWgsl = `struct P { rows: u32, width: u32, step: u32, _p0: u32 }
@group(0) @binding(0) var<storage, read> prompts: array<u32>;
@group(0) @binding(1) var<storage, read> lens: array<u32>;
@group(0) @binding(2) var<storage, read> generated: array<u32>;
@group(0) @binding(3) var<storage, read_write> ids: array<u32>;
@group(0) @binding(4) var<uniform> p: P;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gid.x;
  if (r >= p.rows) { return; }
  if (p.step < lens[r]) { ids[r] = prompts[r * p.width + p.step]; } else { ids[r] = generated[(p.step - 1u) * p.rows + r]; }
}
`

/** generated[step, r] = the argmax of out[r] (the pick kernels' (log-prob, argmax) pairs). params: rows, step. */
export const recordArgmaxWgsl = `struct P { rows: u32, step: u32, _p0: u32, _p1: u32 }
@group(0) @binding(0) var<storage, read> picks: array<vec2<u32>>;
@group(0) @binding(1) var<storage, read_write> generated: array<u32>;
@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gid.x;
  if (r >= p.rows) { return; }
  generated[p.step * p.rows + r] = picks[r].y;
}
`

export interface TokenFeedKernels {
  feedIds(b: { prompts: Binding; lens: Binding; generated: Binding; ids: Binding; params: GPUBuffer }, rows: number): Dispatch
  recordArgmax(b: { picks: Binding; generated: Binding; params: GPUBuffer }, rows: number): Dispatch
}

export const tokenFeedKernels = async (gpu: Gpu): Promise<TokenFeedKernels> => {
  const [feed, record] = await Promise.all([pipeline(gpu.device, feedIdsWgsl, "feed-ids"), pipeline(gpu.device, recordArgmaxWgsl, "record-argmax")])
  return {
    feedIds: (b, rows) => ({ pipeline: feed, buffers: [b.prompts, b.lens, b.generated, b.ids, b.params], groups: [Math.ceil(rows / 64)] }),
    recordArgmax: (b, rows) => ({ pipeline: record, buffers: [b.picks, b.generated, b.params], groups: [Math.ceil(rows / 64)] })
  }
}
