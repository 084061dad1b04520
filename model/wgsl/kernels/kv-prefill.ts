import { pipeline, type Binding, type Dispatch } from "./buffers.ts"
import type { Gpu } from "./device.ts"
import { grid } from "./fused.ts"

/**
 * A prompt's keys and values computed by the scoring engine's forward over whole sequences, moved
 * into the decoder's KV caches (model/wgsl/qwen3-decoder.ts `prefill`): the engine holds K and V
 * as [batch, seq, KV, D] (f16 after the tensor-core path's q/k norm + RoPE, or f32 in the scalar
 * path), the caches as [positions, cacheRows, KV, D] f16. Positions 0 … n / (rows · w) − 1 of
 * engine rows 0 … rows − 1 land at cache rows row0 … row0 + rows − 1. Elements move two at a time
 * (w words of two f16 a token), so the f16 source is a plain word copy and needs no shader-f16.
 */
const kvPrefillWgsl = (source: "f16" | "f32") => `struct P { n: u32, rows: u32, seq: u32, cacheRows: u32, row0: u32, w: u32, _p0: u32, _p1: u32 }
@group(0) @binding(0) var<storage, read> K: array<${source === "f16" ? "u32" : "vec2<f32>"}>;
@group(0) @binding(1) var<storage, read> V: array<${source === "f16" ? "u32" : "vec2<f32>"}>;
@group(0) @binding(2) var<storage, read_write> KC: array<u32>;
@group(0) @binding(3) var<storage, read_write> VC: array<u32>;
@group(0) @binding(4) var<uniform> p: P;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let first = (wg.x + wg.y * 65535u) * 1024u + lid;
  for (var i = first; i < min(first + 1024u, p.n); i += 256u) {
    let e = i % p.w;
    let r = (i / p.w) % p.rows;
    let t = i / (p.w * p.rows);
    let src = (r * p.seq + t) * p.w + e;
    let dst = (t * p.cacheRows + p.row0 + r) * p.w + e;
    ${source === "f16" ? "KC[dst] = K[src];\n    VC[dst] = V[src];" : "KC[dst] = pack2x16float(K[src]);\n    VC[dst] = pack2x16float(V[src]);"}
  }
}
`

export interface KvPrefillKernels {
  /** params: n (= positions · rows · w), rows, seq, cacheRows, row0, w (words a token: KV · D / 2) */
  copy(b: { K: Binding; V: Binding; KC: Binding; VC: Binding; params: GPUBuffer }, source: "f16" | "f32", n: number): Dispatch
}

export const kvPrefillKernels = async (gpu: Gpu): Promise<KvPrefillKernels> => {
  const [f16, f32] = await Promise.all([pipeline(gpu.device, kvPrefillWgsl("f16"), "kv-prefill-f16"), pipeline(gpu.device, kvPrefillWgsl("f32"), "kv-prefill-f32")])
  return {
    copy: (b, source, n) => ({ pipeline: source === "f16" ? f16 : f32, buffers: [b.K, b.V, b.KC, b.VC, b.params], groups: grid(Math.ceil(n / 1024)) })
  }
}
