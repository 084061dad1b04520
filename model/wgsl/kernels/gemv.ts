import { pipeline, type Dispatch } from "./buffers.ts"
import { range } from "./codegen.ts"
import type { Gpu } from "./device.ts"
import type { MatmulPlan } from "./matmul.ts"

/**
 * C = A·Bᵀ (or C += A·Bᵀ) for a few rows of A: the matmul of a decoding step, where A holds one
 * token a row (M ≤ GEMV_ROWS) and the weight B [N, K] is read once for all of them. The
 * tensor-core matmul (model/wgsl/kernels/matmul.ts) needs M a multiple of 128 and gives a 128-row A only
 * N/64 × 2 workgroups of one subgroup — at decoding sizes it runs a few percent of the card, and a
 * 28-layer step took 45 ms on the H200. Here a workgroup of 256 threads takes 8 output columns,
 * 32 threads a column; each thread walks the column's row of B 4 values at a time (32 threads
 * read 256 consecutive bytes) and keeps one f32 sum a row of A; the 32 partial sums of a column
 * meet in workgroup memory. Bound by reading the weights, as decoding is. A and B are f16
 * (storage "f32" for adapters without shader-f16, in tests); C is f32. Same bindings and
 * params as the tensor-core matmul: A, B, C, params (M, N, K), so it is a MatmulPlan.
 */
export const GEMV_ROWS = 16
const COLUMNS = 8

export const gemvWgsl = (accumulate: boolean, storage: "f16" | "f32" = "f16"): string => {
  const R = GEMV_ROWS
  const v4 = `vec4<${storage}>`
  return `${storage === "f16" ? "enable f16;\n" : ""}struct P { M: u32, N: u32, K: u32, _p0: u32 }
@group(0) @binding(0) var<storage, read> A: array<${v4}>;
@group(0) @binding(1) var<storage, read> B: array<${v4}>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
var<workgroup> partial: array<f32, ${256 * R}>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let column = lid / 32u;
  let lane = lid % 32u;
  let n = (wg.x + wg.y * 65535u) * ${COLUMNS}u + column;
  let row = min(n, p.N - 1u) * (p.K / 4u);
  let K4 = p.K / 4u;
${range(R).map((r) => `  var acc${r} = 0.0;`).join("\n")}
  for (var k = lane; k < K4; k += 32u) {
    let w = vec4<f32>(B[row + k]);
${range(R).map((r) => `    if (${r}u < p.M) { acc${r} += dot(w, vec4<f32>(A[${r}u * K4 + k])); }`).join("\n")}
  }
${range(R).map((r) => `  partial[lid * ${R}u + ${r}u] = acc${r};`).join("\n")}
  workgroupBarrier();
  if (lane < p.M && n < p.N) {
    var s = 0.0;
    for (var j = 0u; j < 32u; j++) { s += partial[(column * 32u + j) * ${R}u + lane]; }
    ${accumulate ? "C[lane * p.N + n] += s;" : "C[lane * p.N + n] = s;"}
  }
}
`
}

/** A matmul a forward's layer can use: the tensor-core MatmulPlan or the GEMV. */
export type LayerMatmul = Pick<MatmulPlan, "variant" | "pipeline" | "dispatch">

/** The GEMV, dispatched as a MatmulPlan is (f16 weights only; M ≤ GEMV_ROWS, any N, K a multiple of 4). */
export const gemvPlan = async (gpu: Gpu, options: { readonly accumulate?: boolean; readonly storage?: "f16" | "f32" } = {}): Promise<LayerMatmul> => {
  const storage = options.storage ?? "f16"
  const accumulate = options.accumulate ?? false
  if (storage === "f16" && !gpu.hasF16) throw new Error("gemv: this adapter has no shader-f16")
  if (gpu.device.limits.maxComputeWorkgroupStorageSize < 256 * GEMV_ROWS * 4) throw new Error(`gemv: needs ${256 * GEMV_ROWS * 4} bytes of workgroup memory`)
  const p = await pipeline(gpu.device, gemvWgsl(accumulate, storage), `gemv-${storage}${accumulate ? "-acc" : ""}`)
  const groups = (N: number): Dispatch["groups"] => {
    const g = Math.ceil(N / COLUMNS)
    return g <= 65535 ? [g] : [65535, Math.ceil(g / 65535)]
  }
  return {
    variant: "gemv",
    pipeline: p,
    dispatch: (b, M, N) => {
      if (M > GEMV_ROWS) throw new Error(`gemv: ${M} rows, at most ${GEMV_ROWS}`)
      if (b.absmax) throw new Error("gemv: f16 weights only (NF4 goes through the tensor-core matmul)")
      return { pipeline: p, buffers: [b.A, b.B, b.C, b.params], groups: groups(N) }
    }
  }
}
