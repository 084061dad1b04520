import { pipeline, type Binding, type Dispatch } from "./buffers.ts"
import type { Gpu } from "./device.ts"
import { grid } from "./fused.ts"
import { NON_FINITE_TOKEN } from "./token-feed.ts"

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

/**
 * params: rows, cols, chunks. One workgroup a row; out[row] = (targets[row]'s logit − logsumexp, argmax).
 * With `feed` (pickMergeFeedWgsl) the workgroup then does what a device-fed step's last dispatch
 * and the next step's first two did (model/wgsl/kernels/token-feed.ts recordArgmax and feedIds,
 * model/wgsl/token-kernels.ts embedWgsl, one table shard): records the argmax into `generated`
 * (NON_FINITE_TOKEN where the log-prob is not finite), picks the next step's token (the prompt's
 * while it lasts) and writes its embedding row into X (ids past the vocabulary read its last
 * row), so the next step starts at its first layer: three dispatches a step fewer, each of them
 * a few µs of work behind a barrier at one row.
 */
const pickMergeSource = (feed?: { readonly table: "f16" | "f32" }): string => `${feed?.table === "f16" ? "enable f16;\n" : ""}struct P { rows: u32, cols: u32, chunks: u32, ${feed ? "step: u32, width: u32, hidden: u32, _p0: u32, _p1: u32" : "_p0: u32"} }
${STATE}
struct Pick { logprob: f32, argmax: u32 }
@group(0) @binding(0) var<storage, read> L: array<f32>;
@group(0) @binding(1) var<storage, read> states: array<State>;
@group(0) @binding(2) var<storage, read> targets: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<Pick>;
@group(0) @binding(4) var<uniform> p: P;
${feed ? `@group(0) @binding(5) var<storage, read_write> generated: array<u32>;
@group(0) @binding(6) var<storage, read> feed: array<u32>; // lens [rows], then prompts [rows, width]
@group(0) @binding(7) var<storage, read> E: array<${feed.table}>;
@group(0) @binding(8) var<storage, read_write> X: array<f32>;
var<workgroup> nextId: u32;
` : ""}${SHARED}
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
    let logprob = select(L[row * p.cols + t] - ms[0] - log(ss[0]), bitcast<f32>(0x7fc00000u | bd[0]), bd[0] != 0u);
    out[row] = Pick(logprob, am[0]);${feed ? `
    // recordArgmax: the argmax, or NON_FINITE_TOKEN where the log-prob's exponent is all ones
    let token = select(am[0], ${NON_FINITE_TOKEN}u, (bitcast<u32>(logprob) & 0x7f800000u) == 0x7f800000u);
    generated[p.step * p.rows + row] = token;
    // feedIds for the next step: the prompt's token while the prompt lasts, else this one
    let next = p.step + 1u;
    nextId = select(token, feed[p.rows + row * p.width + min(next, p.width - 1u)], next < feed[row]);` : ""}
  }${feed ? `
  workgroupBarrier();
  // embed: the next token's row of the table into the residual stream (the lm_head read it already)
  let id = min(nextId, p.cols - 1u);
  for (var i = lid; i < p.hidden; i += 256u) { X[row * p.hidden + i] = f32(E[id * p.hidden + i]); }` : ""}
}
`

/** params: rows, cols, chunks. One workgroup a row; out[row] = (targets[row]'s logit − logsumexp, argmax). */
export const pickMergeWgsl = pickMergeSource()

/** pickMerge with the next step's feed (pickMergeSource): params pickFeedParams, the embedding table in `table` (f16 in the decoder). */
export const pickMergeFeedWgsl = (table: "f16" | "f32"): string => pickMergeSource({ table })

export interface PickSplit {
  /** The two dispatches for `rows` rows of logits [rows, cols]; states: rows · chunks(cols) · 16 bytes; params: pickSplitParams. */
  (b: { logits: Binding; states: Binding; targets: Binding; out: Binding; params: GPUBuffer }, rows: number, cols: number): [Dispatch, Dispatch]
}

/** The two dispatches of PickSplit with the merge feeding the next step (pickMergeFeedWgsl): generated [steps, rows], feed = lens [rows] then prompts [rows, width], E the embedding table [cols, hidden] (one binding), X [rows, hidden]; params: pickFeedParams. */
export interface PickFeed {
  (b: { logits: Binding; states: Binding; targets: Binding; out: Binding; generated: Binding; feed: Binding; E: Binding; X: Binding; params: GPUBuffer }, rows: number, cols: number): [Dispatch, Dispatch]
}

export const pickChunks = (cols: number): number => Math.ceil(cols / PICK_CHUNK)
/** pickMergeFeedWgsl's uniform: rows, cols, chunks, step (the one picking), width (of the prompts), hidden. */
export const pickFeedParams = (rows: number, cols: number, step: number, width: number, hidden: number): Array<number> => [rows, cols, pickChunks(cols), step, width, hidden, 0, 0]
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

export const pickFeed = async (gpu: Gpu, table: "f16" | "f32"): Promise<PickFeed> => {
  if (table === "f16" && !gpu.hasF16) throw new Error("pick + feed: an f16 embedding table needs shader-f16")
  const chunks = await pipeline(gpu.device, pickChunksWgsl, "pick-chunks")
  const merge = await pipeline(gpu.device, pickMergeFeedWgsl(table), `pick-merge-feed-${table}`)
  return (b, rows, cols) => {
    if (rows > 65535) throw new Error(`pick: ${rows} rows, at most 65535`)
    return [
      { pipeline: chunks, buffers: [b.logits, b.states, b.params], groups: [pickChunks(cols), rows] },
      { pipeline: merge, buffers: [b.logits, b.states, b.targets, b.out, b.params, b.generated, b.feed, b.E, b.X], groups: grid(rows) }
    ]
  }
}
