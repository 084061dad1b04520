import { pipeline, type Binding, type Dispatch } from "../kernels/buffers.ts"
import type { Gpu } from "../kernels/device.ts"
import { grid } from "../kernels/fused.ts"

/**
 * The two kernels at the ends of a scoring forward: token embedding lookup (f16 table → f32
 * hidden states) and, per row of logits, the log-softmax value at the target token with the
 * argmax — so only two numbers a token come back to the host, never a vocabulary-wide row.
 */

/** X[t, :] = f32(E[ids[t], :]), one workgroup a token. */
export const embedWgsl = `enable f16;
struct P { tokens: u32, hidden: u32, vocab: u32, _p: u32 }
@group(0) @binding(0) var<storage, read> ids: array<u32>;
@group(0) @binding(1) var<storage, read> E: array<f16>;
@group(0) @binding(2) var<storage, read_write> X: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = wg.x + wg.y * 65535u;
  if (t >= p.tokens) { return; }
  let id = min(ids[t], p.vocab - 1u);
  for (var i = lid; i < p.hidden; i += 256u) { X[t * p.hidden + i] = f32(E[id * p.hidden + i]); }
}
`

/**
 * One workgroup a row of logits [rows, vocab]: an online max/sum pass gives logsumexp, then
 * out[row] = (logits[target] − logsumexp, argmax). Ties in the argmax go to the lowest id, as
 * torch.argmax does.
 */
export const pickWgsl = `struct P { rows: u32, vocab: u32, _p0: u32, _p1: u32 }
struct Pick { logprob: f32, argmax: u32 }
@group(0) @binding(0) var<storage, read> L: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<Pick>;
@group(0) @binding(3) var<uniform> p: P;
var<workgroup> ms: array<f32, 256>;
var<workgroup> ss: array<f32, 256>;
var<workgroup> am: array<u32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x + wg.y * 65535u;
  if (row >= p.rows) { return; }
  let base = row * p.vocab;
  var m = -3.0e38;
  var s = 0.0;
  var a = 0u;
  for (var i = lid; i < p.vocab; i += 256u) {
    let v = L[base + i];
    if (v > m) { s = s * exp(m - v); m = v; a = i; }
    s += exp(v - m);
  }
  ms[lid] = m; ss[lid] = s; am[lid] = a;
  workgroupBarrier();
  for (var w = 128u; w > 0u; w = w / 2u) {
    if (lid < w) {
      let m2 = ms[lid + w];
      let mm = max(ms[lid], m2);
      ss[lid] = ss[lid] * exp(ms[lid] - mm) + ss[lid + w] * exp(m2 - mm);
      if (m2 > ms[lid] || (m2 == ms[lid] && am[lid + w] < am[lid])) { am[lid] = am[lid + w]; }
      ms[lid] = mm;
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let t = min(targets[row], p.vocab - 1u);
    out[row] = Pick(L[base + t] - ms[0] - log(ss[0]), am[0]);
  }
}
`

export interface TokenKernels {
  embed(b: { ids: Binding; E: Binding; X: Binding; params: GPUBuffer }, tokens: number): Dispatch
  pick(b: { logits: Binding; targets: Binding; out: Binding; params: GPUBuffer }, rows: number): Dispatch
}

export const tokenKernels = async (gpu: Gpu): Promise<TokenKernels> => {
  const [embed, pick] = await Promise.all([pipeline(gpu.device, embedWgsl, "embed"), pipeline(gpu.device, pickWgsl, "pick-logprob")])
  return {
    embed: (b, tokens) => ({ pipeline: embed, buffers: [b.ids, b.E, b.X, b.params], groups: grid(tokens) }),
    pick: (b, rows) => ({ pipeline: pick, buffers: [b.logits, b.targets, b.out, b.params], groups: grid(rows) })
  }
}
