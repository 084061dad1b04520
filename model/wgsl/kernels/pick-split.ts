import { pipeline, type Binding, type Dispatch } from "./buffers.ts"
import type { Gpu } from "./device.ts"
import { grid } from "./fused.ts"

/**
 * The log-prob pick (model/wgsl/token-kernels.ts pickPartial + pickFinish: log-softmax at the
 * target and the argmax, lowest id on ties) for a few rows of a whole vocabulary, as the decoder
 * needs it: pickPartial gives a row one workgroup, so at batch 1 one workgroup walks 151 936
 * logits while the card idles. Here the vocabulary is cut into chunks of CHUNK logits, one
 * workgroup a (chunk, row) folds its chunk into a (max, sum of exponentials, argmax) state, and a
 * second dispatch merges each row's states in order into (log-prob of the target, argmax). Same
 * arithmetic as pickPartial. A NaN or +Inf logit makes the row's log-prob NaN (recordArgmax then
 * records NON_FINITE_TOKEN, model/wgsl/kernels/token-feed.ts) through a flag, tested on the
 * logit's bits: exp of NaN need not be NaN (SwiftShader's is finite).
 */
export const PICK_CHUNK = 2048

const STATE = "struct State { m: f32, s: f32, argmax: u32, bad: u32 }"
const SHARED = `var<workgroup> ms: array<f32, 256>;
var<workgroup> ss: array<f32, 256>;
var<workgroup> am: array<u32, 256>;
var<workgroup> bd: array<u32, 256>;`
/** Merges the 256 threads' (m, s, argmax, bad) into index 0, lowest id on ties. */
const TREE = `  ms[lid] = m; ss[lid] = s; am[lid] = a; bd[lid] = bad;
  workgroupBarrier();
  for (var w = 128u; w > 0u; w = w / 2u) {
    if (lid < w) {
      let m2 = ms[lid + w];
      let mm = max(ms[lid], m2);
      ss[lid] = ss[lid] * exp(ms[lid] - mm) + ss[lid + w] * exp(m2 - mm);
      if (m2 > ms[lid] || (m2 == ms[lid] && am[lid + w] < am[lid])) { am[lid] = am[lid + w]; }
      ms[lid] = mm;
      bd[lid] = bd[lid] | bd[lid + w];
    }
    workgroupBarrier();
  }`

/** params: rows, cols (the vocabulary), chunks. Grid [chunks, rows]. */
export const pickChunksWgsl = `struct P { rows: u32, cols: u32, chunks: u32, _p0: u32 }
${STATE}
@group(0) @binding(0) var<storage, read> L: array<f32>;
@group(0) @binding(1) var<storage, read_write> states: array<State>;
@group(0) @binding(2) var<uniform> p: P;
${SHARED}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let chunk = wg.x;
  let row = wg.y;
  let c0 = chunk * ${PICK_CHUNK}u;
  let c1 = min(c0 + ${PICK_CHUNK}u, p.cols);
  var m = -3.0e38;
  var s = 0.0;
  var a = c0;
  var bad = 0u;
  for (var i = c0 + lid; i < c1; i += 256u) {
    let v = L[row * p.cols + i];
    let bits = bitcast<u32>(v);
    if ((bits & 0x7f800000u) == 0x7f800000u && bits != 0xff800000u) { bad = 1u; } // NaN or +Inf
    if (v > m) { s = s * exp(m - v); m = v; a = i; }
    s += exp(v - m);
  }
${TREE}
  if (lid == 0u) { states[row * p.chunks + chunk] = State(ms[0], ss[0], am[0], bd[0]); }
}
`

/** params: rows, cols, chunks. One workgroup a row; out[row] = (targets[row]'s logit − logsumexp, argmax). */
export const pickMergeWgsl = `struct P { rows: u32, cols: u32, chunks: u32, _p0: u32 }
${STATE}
struct Pick { logprob: f32, argmax: u32 }
@group(0) @binding(0) var<storage, read> L: array<f32>;
@group(0) @binding(1) var<storage, read> states: array<State>;
@group(0) @binding(2) var<storage, read> targets: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<Pick>;
@group(0) @binding(4) var<uniform> p: P;
${SHARED}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x;
  var m = -3.0e38;
  var s = 0.0;
  var a = 0xffffffffu;
  var bad = 0u;
  for (var c = lid; c < p.chunks; c += 256u) {
    let st = states[row * p.chunks + c];
    let mm = max(m, st.m);
    s = s * exp(m - mm) + st.s * exp(st.m - mm);
    // chunks come in id order: an earlier one keeps the argmax on a tie
    if (st.m > m || a == 0xffffffffu) { a = st.argmax; }
    m = mm;
    bad = bad | st.bad;
  }
${TREE}
  if (lid == 0u) {
    let t = min(targets[row], p.cols - 1u);
    out[row] = Pick(select(L[row * p.cols + t] - ms[0] - log(ss[0]), bitcast<f32>(0x7fc00000u | bd[0]), bd[0] != 0u), am[0]);
  }
}
`

export interface PickSplit {
  /** The two dispatches for `rows` rows of logits [rows, cols]; states: rows · chunks(cols) · 16 bytes; params: pickSplitParams. */
  (b: { logits: Binding; states: Binding; targets: Binding; out: Binding; params: GPUBuffer }, rows: number, cols: number): [Dispatch, Dispatch]
}

export const pickChunks = (cols: number): number => Math.ceil(cols / PICK_CHUNK)
export const pickSplitParams = (rows: number, cols: number): Array<number> => [rows, cols, pickChunks(cols), 0]

export const pickSplit = async (gpu: Gpu): Promise<PickSplit> => {
  const chunks = await pipeline(gpu.device, pickChunksWgsl, "pick-chunks")
  const merge = await pipeline(gpu.device, pickMergeWgsl, "pick-merge")
  return (b, rows, cols) => {
    if (rows > 65535) throw new Error(`pick: ${rows} rows, at most 65535`)
    return [
      { pipeline: chunks, buffers: [b.logits, b.states, b.params], groups: [pickChunks(cols), rows] },
      { pipeline: merge, buffers: [b.logits, b.states, b.targets, b.out, b.params], groups: grid(rows) }
    ]
  }
}
