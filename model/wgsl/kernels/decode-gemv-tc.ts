import { range } from "./codegen.ts"
import type { DecodeGemvSpec } from "./decode-gemv-spec.ts"

/**
 * The fused decoding GEMVs (decode-layer.ts DecodeGemvSpec: qkv, gate/up + SiLU·up, the residual
 * accumulate, the head) on the tensor cores, for up to 16 rows: the step's 16 tokens are exactly
 * one 16 × 16 left fragment, so C [16, 16 columns] = A [16, K] · B [16 columns, K]ᵀ is a chain of
 * subgroup-matrix products, and the 16 rows no longer cost 16 FMAs and 16 activation loads per
 * weight value (the CUDA-core GEMV at 16 rows moved ~300 GB/s of weights on the H100, bound by
 * the activations' loads and the per-row reductions, not by the weights).
 *
 * A workgroup (8 subgroups of 32 lanes) owns 16 output columns (gate-up: 16 indices, both weights)
 * and splits K into 8 slices, one a subgroup. Each subgroup walks its slice 16 · U values at a
 * time: its U weight fragments (each 16 columns × 16 k, read column-major straight from storage:
 * 16 runs of 32 bytes) are loaded first, so their loads are in flight while it stages the U
 * matching 16 × 16 chunks of A in workgroup memory (f16; rows past M zero; the norm kinds' RMSNorm
 * weight g multiplied in and each row's sum of squares kept on the side, as decode-layer.ts folds
 * it), then U products. The 8 slices' f32 result fragments meet in workgroup memory (`C`, the
 * name the tests' emulation stores into) and one thread an output adds them, scales the norm
 * kinds by 1/rms and writes (store, accumulate onto the residual, or SiLU(gate)·up).
 *
 * Needs N a multiple of 16 and K a multiple of 8 · 16 · U (the engine's widths are). `storage`
 * "f32" is the same kernel for the emulated fragments of tests (test/helpers/kernels/
 * subgroup-matrix-emulation.ts) on adapters without tensor cores.
 */
export const TC_COLUMNS = 16
const SUBGROUPS = 8

export interface DecodeGemvTcSpec extends Omit<DecodeGemvSpec, "rows" | "shape"> {
  /** 16-value steps of K a subgroup's loads run ahead (workgroup memory: 8 · U · 256 values of A) */
  readonly unroll: number
}

/** The K multiple a tensor-core decoding GEMV needs. */
export const tcGemvKStep = (unroll: number): number => SUBGROUPS * 16 * unroll

export const decodeGemvTcWgsl = (s: DecodeGemvTcSpec): string => {
  const S = s.storage
  const U = s.unroll
  const pair = s.weights === "gate-up"
  const nB = s.weights === "qkv" ? 3 : pair ? 2 : 1
  const nF = pair ? 2 : 1 // result fragments a subgroup
  const aType = s.norm ? "f32" : S
  const bindings = [
    `@group(0) @binding(0) var<storage, read> A: array<${aType}>;`,
    ...range(nB).map((i) => `@group(0) @binding(${1 + i}) var<storage, read> B${i}: array<${S}>;`),
    pair ? `@group(0) @binding(${1 + nB}) var<storage, read_write> Y: array<${S}>;` : `@group(0) @binding(${1 + nB}) var<storage, read_write> Out: array<f32>;`,
    `@group(0) @binding(${2 + nB}) var<uniform> p: P;`,
    ...(s.norm ? [`@group(0) @binding(${3 + nB}) var<storage, read> G: array<f32>;`] : [])
  ]
  // the k loop over one weight (qkv: the one holding this workgroup's columns), its rows from `nb`
  const loop = (weights: ReadonlyArray<string>, nb: string) => `    for (var kk = 0u; kk < kPer; kk += ${16 * U}u) {
      let kbase = k0 + kk;
${range(U).flatMap((u) => weights.map((w, f) => `      let b${f}_${u} = subgroupMatrixLoad<subgroup_matrix_right<${S}, 16, 16>>(&${w}, (${nb}) * p.K + kbase + ${16 * u}u, true, p.K);`)).join("\n")}
${range(U).map((u) => `      for (var e = 0u; e < 8u; e++) {
        let k = kbase + ${16 * u}u + kh + e;
        var a = 0.0;
        if (r < p.M) { a = f32(A[r * p.K + k]); }
${s.norm ? "        ss += a * a;\n        a = a * G[k];\n" : ""}        As[sg * ${256 * U}u + ${256 * u}u + r * 16u + kh + e] = ${S}(a);
      }`).join("\n")}
      workgroupBarrier();
${range(U).map((u) => `      {
        let a = subgroupMatrixLoad<subgroup_matrix_left<${S}, 16, 16>>(&As, sg * ${256 * U}u + ${256 * u}u, false, 16u);
${range(weights.length).map((f) => `        acc${f} = subgroupMatrixMultiplyAccumulate(a, b${f}_${u}, acc${f});`).join("\n")}
      }`).join("\n")}
      workgroupBarrier();
    }`
  const body = s.weights === "qkv"
    ? `  if (n0 < p.n1) {
${loop(["B0"], "n0")}
  } else if (n0 < p.n2) {
${loop(["B1"], "n0 - p.n1")}
  } else {
${loop(["B2"], "n0 - p.n2")}
  }`
    : `  {
${loop(pair ? ["B0", "B1"] : ["B0"], "n0")}
  }`
  const sum = (f: number) => `C[${f * 256}u + row * 16u + col]${range(SUBGROUPS - 1).map((i) => ` + C[${(i + 1) * 256 * nF + f * 256}u + row * 16u + col]`).join("")}`
  return `${S === "f16" ? "enable f16;\n" : ""}enable subgroups;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);
struct P { M: u32, N: u32, K: u32, n1: u32, n2: u32, _p0: u32, _p1: u32, _p2: u32, eps: f32 }
${bindings.join("\n")}
var<workgroup> As: array<${S}, ${SUBGROUPS * 256 * U}>;
var<workgroup> C: array<f32, ${SUBGROUPS * 256 * nF}>;
var<workgroup> ssw: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let sg = lid / 32u; // the slice of K this warp walks
  let lane = lid % 32u;
  let n0 = (wg.x + wg.y * 65535u) * 16u; // the workgroup's first column
  let kPer = p.K / ${SUBGROUPS}u;
  let k0 = sg * kPer;
  let r = lane / 2u; // the row of A this lane stages, 8 values of k from kh
  let kh = (lane % 2u) * 8u;
  var ss = 0.0;
${range(nF).map((f) => `  var acc${f} = subgroup_matrix_result<f32, 16, 16>();`).join("\n")}
${body}
${range(nF).map((f) => `  subgroupMatrixStore(&C, sg * ${256 * nF}u + ${f * 256}u, acc${f}, false, 16u);`).join("\n")}
  ssw[lid] = ss;
  workgroupBarrier();
  let row = lid / 16u;
  let col = lid % 16u;
  let n = n0 + col;
${s.norm ? `  var sq = 0.0;
  for (var i = 0u; i < ${SUBGROUPS}u; i++) { sq += ssw[i * 32u + 2u * row] + ssw[i * 32u + 2u * row + 1u]; }
  let inv = inverseSqrt(sq / f32(p.K) + p.eps); // 1/rms of the row
` : "  let inv = 1.0;\n"}${range(nF).map((f) => `  let s${f} = (${sum(f)}) * inv;`).join("\n")}
  if (row < p.M && n < p.N) {
    ${pair ? `Y[row * p.N + n] = ${S}(s0 / (1.0 + exp(-s0)) * s1);` : s.out === "accumulate" ? "Out[row * p.N + n] += s0;" : "Out[row * p.N + n] = s0;"}
  }
}
`
}
