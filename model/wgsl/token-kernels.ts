import { pipeline, type Binding, type Dispatch } from "./kernels/buffers.ts"
import type { Gpu } from "./kernels/device.ts"
import { grid } from "./kernels/fused.ts"

/**
 * The two kernels at the ends of a scoring forward: token embedding lookup (f16 table → f32
 * hidden states) and, per row of logits, the log-softmax value at the target token with the
 * argmax — so only two numbers a token come back to the host, never a vocabulary-wide row.
 */

/**
 * X[t, :] = f32(E[ids[t], :]) for the tokens whose row lies in this shard of the table (rows
 * row0 … row0 + rows − 1, bound as a window): a table larger than one binding (2 GiB) is read
 * shard by shard. Ids past the vocabulary read its last row. One workgroup a token.
 */
export const embedWgsl = `enable f16;
struct P { tokens: u32, hidden: u32, vocab: u32, row0: u32, rows: u32 }
@group(0) @binding(0) var<storage, read> ids: array<u32>;
@group(0) @binding(1) var<storage, read> E: array<f16>;
@group(0) @binding(2) var<storage, read_write> X: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = wg.x + wg.y * 65535u;
  if (t >= p.tokens) { return; }
  let id = min(ids[t], p.vocab - 1u);
  if (id < p.row0 || id >= p.row0 + p.rows) { return; }
  let row = id - p.row0;
  for (var i = lid; i < p.hidden; i += 256u) { X[t * p.hidden + i] = f32(E[row * p.hidden + i]); }
}
`

/**
 * The end of a one-workgroup-a-row pick: the 256 threads' (max, sum of exponentials, argmax) in
 * ms/ss/am reduced by a tree (ties in the argmax to the lowest id, as torch.argmax), then merged by
 * thread 0 into the row's state with the target's logit `tv` (−3e38 where the target lies outside
 * this shard). Column ids are the shard's; p.col0 makes them the vocabulary's.
 */
/**
 * A one-workgroup-a-row pick over this shard: each of 256 threads folds its share of the row's
 * `count` items (`fold`: updates m, s, a from item i at `base`) in ascending order, the tree
 * reduces the threads (ties in the argmax to the lowest id, as torch.argmax), and thread 0 merges
 * the result into the row's state with the target's logit (`targetLogit`, read only where the
 * target lies in this shard; −3e38 marks it outside). Column ids are the shard's; p.col0 makes
 * them the vocabulary's.
 */
const rowPickWgsl = (k: { params: string; input: string; count: string; fold: string; targetLogit: string }) => `struct P { rows: u32, cols: u32, col0: u32, first: u32${k.params} }
struct State { m: f32, s: f32, argmax: u32, targetLogit: f32 }
${k.input}
@group(0) @binding(1) var<storage, read> targets: array<u32>;
@group(0) @binding(2) var<storage, read_write> state: array<State>;
@group(0) @binding(3) var<uniform> p: P;
var<workgroup> ms: array<f32, 256>;
var<workgroup> ss: array<f32, 256>;
var<workgroup> am: array<u32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x + wg.y * 65535u;
  if (row >= p.rows) { return; }
  let base = row * ${k.count};
  var m = -3.0e38;
  var s = 0.0;
  var a = 0u;
  for (var i = lid; i < ${k.count}; i += 256u) {
${k.fold}
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
    let t = targets[row];
    let inShard = t >= p.col0 && t < p.col0 + p.cols;
    let tv = select(-3.0e38, ${k.targetLogit}, inShard);
    if (p.first == 1u) {
      state[row] = State(ms[0], ss[0], am[0] + p.col0, tv);
    } else {
      let old = state[row];
      let mm = max(old.m, ms[0]);
      // an earlier shard keeps the argmax on a tie: its ids are lower
      let best = select(old.argmax, am[0] + p.col0, ms[0] > old.m);
      state[row] = State(mm, old.s * exp(old.m - mm) + ss[0] * exp(ms[0] - mm), best, select(old.targetLogit, tv, inShard));
    }
  }
}
`

/**
 * Log-softmax at the target and argmax over a vocabulary computed in column shards (each shard's
 * logits [rows, cols] from one lm_head window): per row, this shard's max, sum of exponentials,
 * argmax and (if the target falls in it) the target's logit are merged into a running state, so
 * the whole vocabulary never has to sit in one binding. One workgroup a row.
 */
export const pickPartialWgsl = rowPickWgsl({
  params: "",
  input: "@group(0) @binding(0) var<storage, read> L: array<f32>;",
  count: "p.cols",
  fold: `    let v = L[base + i];
    if (v > m) { s = s * exp(m - v); m = v; a = i; }
    s += exp(v - m);`,
  targetLogit: "L[base + min(t - p.col0, p.cols - 1u)]"
})

/**
 * The same merge from the lm_head matmul's pick epilogue (matmul-tiles.ts, "pick"), which never
 * writes the logits: per row, one (max, sum of exponentials, argmax, target's logit if the
 * target's column lies in the block) a block of `width` columns, `blocks` = cols / width of them
 * (words as u32: f32 bits but the argmax). A later block takes the argmax only with a larger logit.
 */
export const pickMergeWgsl = rowPickWgsl({
  params: ", blocks: u32, width: u32",
  input: "@group(0) @binding(0) var<storage, read> partials: array<vec4<u32>>;",
  count: "p.blocks",
  fold: `    let q = partials[base + i];
    let m2 = bitcast<f32>(q.x);
    let mm = max(m, m2);
    s = s * exp(m - mm) + bitcast<f32>(q.y) * exp(m2 - mm);
    if (m2 > m) { a = q.z; }
    m = mm;`,
  targetLogit: "bitcast<f32>(partials[row * p.blocks + min(t - p.col0, p.cols - 1u) / p.width].w)"
})

/** out[row] = (target logit − logsumexp, argmax) from the merged state; one thread a row. */
export const pickFinishWgsl = `struct P { rows: u32 }
struct State { m: f32, s: f32, argmax: u32, targetLogit: f32 }
struct Pick { logprob: f32, argmax: u32 }
@group(0) @binding(0) var<storage, read> state: array<State>;
@group(0) @binding(1) var<storage, read_write> out: array<Pick>;
@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row = gid.x + gid.y * 65535u * 256u;
  if (row >= p.rows) { return; }
  let st = state[row];
  out[row] = Pick(st.targetLogit - st.m - log(st.s), st.argmax);
}
`

export interface TokenKernels {
  /** params: tokens, hidden, vocab, row0, rows (this shard of the table) */
  embed(b: { ids: Binding; E: Binding; X: Binding; params: GPUBuffer }, tokens: number): Dispatch
  /** params: rows, cols (of this shard), col0, first (1 for the first shard) */
  pickPartial(b: { logits: Binding; targets: Binding; state: Binding; params: GPUBuffer }, rows: number): Dispatch
  /** params: rows, cols (of this shard), col0, first, blocks, width (the matmul pick epilogue's partials) */
  pickMerge(b: { partials: Binding; targets: Binding; state: Binding; params: GPUBuffer }, rows: number): Dispatch
  pickFinish(b: { state: Binding; out: Binding; params: GPUBuffer }, rows: number): Dispatch
}

export const tokenKernels = async (gpu: Gpu): Promise<TokenKernels> => {
  // the f16 table needs shader-f16; the pick kernels are f32 and run anywhere
  const [embed, partial, merge, finish] = await Promise.all([
    gpu.hasF16 ? pipeline(gpu.device, embedWgsl, "embed") : undefined, pipeline(gpu.device, pickPartialWgsl, "pick-partial"),
    pipeline(gpu.device, pickMergeWgsl, "pick-merge"), pipeline(gpu.device, pickFinishWgsl, "pick-finish")
  ])
  return {
    embed: (b, tokens) => {
      if (!embed) throw new Error("embed: this adapter has no shader-f16")
      return { pipeline: embed, buffers: [b.ids, b.E, b.X, b.params], groups: grid(tokens) }
    },
    pickPartial: (b, rows) => ({ pipeline: partial, buffers: [b.logits, b.targets, b.state, b.params], groups: grid(rows) }),
    pickMerge: (b, rows) => ({ pipeline: merge, buffers: [b.partials, b.targets, b.state, b.params], groups: grid(rows) }),
    pickFinish: (b, rows) => ({ pipeline: finish, buffers: [b.state, b.out, b.params], groups: grid(Math.ceil(rows / 256)) })
  }
}

/**
 * Row ranges of a [vocab, hidden] f16 table, each within one binding of `maxBindingBytes`, in
 * multiples of 128 rows (the matmul's tile): one range when the table fits, as it does up to
 * hidden 7168 at Qwen3's vocabulary.
 */
export const tableShards = (vocab: number, hidden: number, maxBindingBytes: number): Array<{ readonly row0: number; readonly rows: number }> => {
  const perShard = Math.floor(maxBindingBytes / (hidden * 2) / 128) * 128
  if (perShard < 128) throw new Error(`a binding of ${maxBindingBytes} bytes holds fewer than 128 rows of ${hidden}`)
  const shards: Array<{ row0: number; rows: number }> = []
  for (let row0 = 0; row0 < vocab; row0 += perShard) shards.push({ row0, rows: Math.min(perShard, vocab - row0) })
  return shards
}
