import { pipeline, type Binding, type Dispatch } from "./buffers.ts"
import type { Gpu } from "./device.ts"

/**
 * Attention of one new token a row against a KV cache, for greedy decoding (model/wgsl/
 * qwen3-decoder.ts): Q [rows, H, D], the caches K, V [positions, rows, KV, D] and O [rows, H, D],
 * all f16 in storage, f32 inside. Every row attends to positions 0 … len − 1 (the decoder keeps
 * all rows at the same position: a row's prompt and its generated tokens follow each other with
 * no padding). Query head h reads kv head h / (H / KV).
 *
 * One workgroup of D threads a (row, head), flash-style over blocks of D keys: thread j scores
 * key block + j (q from workgroup memory, its key row from storage), then every thread folds the
 * block into its own output dimension with an online softmax (running max and sum), reading V
 * coalesced across the workgroup. No row × positions matrix exists anywhere. `storage` f32 is the
 * same kernel for adapters without shader-f16 (tests on SwiftShader).
 */
export const decodeAttentionWgsl = (D: number, storage: "f16" | "f32" = "f16"): string => `${storage === "f16" ? "enable f16;\n" : ""}struct P { rows: u32, len: u32, H: u32, KV: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> Q: array<${storage}>;
@group(0) @binding(1) var<storage, read> K: array<${storage}>;
@group(0) @binding(2) var<storage, read> V: array<${storage}>;
@group(0) @binding(3) var<storage, read_write> O: array<${storage}>;
@group(0) @binding(4) var<uniform> p: P;
var<workgroup> qs: array<f32, ${D}>;
var<workgroup> scores: array<f32, ${D}>;
@compute @workgroup_size(${D})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x;
  let h = wg.y;
  let kvh = h / (p.H / p.KV);
  let qBase = (row * p.H + h) * ${D}u;
  qs[lid] = f32(Q[qBase + lid]);
  workgroupBarrier();
  var m = -3.0e38;
  var l = 0.0;
  var acc = 0.0;
  let stride = p.rows * p.KV * ${D}u; // one position of the cache
  let kvBase = (row * p.KV + kvh) * ${D}u;
  for (var b0 = 0u; b0 < p.len; b0 += ${D}u) {
    let n = min(${D}u, p.len - b0);
    if (lid < n) {
      let kb = (b0 + lid) * stride + kvBase;
      var s = 0.0;
      for (var d = 0u; d < ${D}u; d++) { s = fma(qs[d], f32(K[kb + d]), s); }
      scores[lid] = s * p.scale;
    }
    workgroupBarrier();
    var bm = m;
    for (var j = 0u; j < n; j++) { bm = max(bm, scores[j]); }
    let correction = exp(m - bm);
    l = l * correction;
    acc = acc * correction;
    for (var j = 0u; j < n; j++) {
      let w = exp(scores[j] - bm);
      l += w;
      acc = fma(w, f32(V[(b0 + j) * stride + kvBase + lid]), acc);
    }
    m = bm;
    workgroupBarrier(); // the next block overwrites the scores
  }
  O[qBase + lid] = ${storage}(acc / l);
}
`

export interface DecodeAttention {
  /** params: rows, len, H, KV (u32), scale (f32); `rows` the cache's rows, of which the first `active` are computed. */
  (b: { Q: Binding; K: Binding; V: Binding; O: Binding; params: GPUBuffer }, active: number, H: number): Dispatch
}

export const decodeAttention = async (gpu: Gpu, D: number, storage: "f16" | "f32" = "f16"): Promise<DecodeAttention> => {
  if (storage === "f16" && !gpu.hasF16) throw new Error("decode attention: this adapter has no shader-f16")
  if (D > gpu.device.limits.maxComputeInvocationsPerWorkgroup) throw new Error(`decode attention: head_dim ${D} exceeds the workgroup size limit`)
  const p = await pipeline(gpu.device, decodeAttentionWgsl(D, storage), `decode-attention-${storage}`)
  return (b, active, H) => ({ pipeline: p, buffers: [b.Q, b.K, b.V, b.O, b.params], groups: [active, H] })
}
