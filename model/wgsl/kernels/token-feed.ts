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

/**
 * Recorded instead of a token when the step's logits were not finite: the pick's log-prob
 * (target logit − log-sum-exp) is NaN or infinite when any logit is NaN or +Inf (or all are −Inf),
 * and the argmax of such logits is no token (issue 20). Past any vocabulary; the embedding fed
 * with it reads the table's last row, and the host fails the row (GreedyRows.failNonFinite).
 */
export const NON_FINITE_TOKEN = 0xffffffff

/**
 * generated[step, r] = the argmax of out[r] (the pick kernels' (log-prob, argmax) pairs), or
 * NON_FINITE_TOKEN when the log-prob is NaN or infinite. Tested on its bits (exponent all ones),
 * not with x != x, which a compiler may fold away. params: rows, step.
 */
export const recordArgmaxWgsl = `struct P { rows: u32, step: u32, _p0: u32, _p1: u32 }
@group(0) @binding(0) var<storage, read> picks: array<vec2<u32>>;
@group(0) @binding(1) var<storage, read_write> generated: array<u32>;
@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gid.x;
  if (r >= p.rows) { return; }
  let pick = picks[r];
  generated[p.step * p.rows + r] = select(pick.y, 0xffffffffu, (pick.x & 0x7f800000u) == 0x7f800000u);
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
