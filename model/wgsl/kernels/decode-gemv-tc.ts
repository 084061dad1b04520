import { range } from "./codegen.ts"
import type { DecodeGemvSpec } from "./decode-gemv-spec.ts"

/**
 * The fused decoding GEMVs (decode-gemv-spec.ts: qkv, gate/up + SiLU·up, the residual accumulate,
 * the head) on the tensor cores, for up to 16 rows: the step's 16 tokens are exactly one 16 × 16
 * left fragment, so C [16, 16 columns] = A [16, K] · B [16 columns, K]ᵀ is a chain of
 * subgroup-matrix products, and the rows cost no FMAs, no activation loads and no reductions of
 * their own.
 *
 * The first form of this kernel (session 8) staged each 16 × 16 chunk of A through workgroup memory
 * between two barriers at every step of K, and a workgroup of 16 columns read all of A (f32, 4 bytes
 * a value) for 2 bytes of weight a value: it read twice as much A from L2 as weights and ran slower
 * than the CUDA-core GEMVs. Here A is read once a workgroup and the loop has no barrier:
 *
 * - a workgroup (8 subgroups of 32 lanes) owns `groups` · 16 output columns (gate-up: `groups` · 16
 *   indices, both weights); its 8 subgroups split K into 8 slices and each computes every one of
 *   the workgroup's column groups over its slice, so one A fragment serves `groups` (gate-up: 2 ·
 *   `groups`) products;
 * - the norm kinds (qkv, gate/up, head: A is the f32 residual) first stage the whole normalised
 *   A, f16(x · g / rms) of 16 rows (rows past M zero), in workgroup memory with a row stride of
 *   K + 8 (the fragment loads' 8 rows of 16 bytes fall on distinct banks); one barrier. The other
 *   kinds (o, down: A is already `storage` [rows, K]) load their A fragments straight from storage
 *   (L2-resident, read by every workgroup): A's buffer must hold 16 rows (the decoder's are padded
 *   to 128), rows past M are read and their products dropped;
 * - each step of the k loop issues `unroll` · `groups` · (gate-up: 2) weight fragments (16 runs of
 *   32 bytes each, column-major from the [N, K] weight) and the matching `unroll` A fragments
 *   before its products: bytes in flight without staging;
 * - the 8 slices' result fragments meet in workgroup memory, one fragment at a time (8 KB), and
 *   one thread an output adds them and writes (store, accumulate onto the residual, SiLU(gate)·up).
 *
 * Needs K a multiple of tcGemvKStep(unroll), the norm kinds' K at most `normK`, and qkv's
 * boundaries multiples of the workgroup's columns; a last workgroup past N recomputes the last
 * column group and writes nothing. `storage` "f32" is the same kernel for the emulated fragments of
 * tests (test/helpers/kernels/subgroup-matrix-emulation.ts) on adapters without tensor cores.
 */
export const TC_COLUMNS = 16
const SUBGROUPS = 8

/** A tensor-core GEMV's layout: column groups of 16 a workgroup, 16-value steps of K a subgroup's loads run ahead. */
export interface TcGemvShape {
  readonly tcGroups: 1 | 2 | 4
  readonly unroll: 1 | 2 | 4 | 8
}

export const DEFAULT_TC_SHAPE: TcGemvShape = { tcGroups: 2, unroll: 4 }

/** The layouts the decode tuner times where the tensor-core GEMVs are asked for (model/wgsl/decode-tune.ts). */
export const TC_CANDIDATES: ReadonlyArray<TcGemvShape> = [
  { tcGroups: 1, unroll: 4 }, { tcGroups: 1, unroll: 8 }, { tcGroups: 2, unroll: 2 }, { tcGroups: 2, unroll: 4 },
  { tcGroups: 4, unroll: 2 }, { tcGroups: 4, unroll: 4 }
]

/** Whether a layout is a tensor-core one. */
export const isTcShape = (shape: object): shape is TcGemvShape => "tcGroups" in shape

/** Columns of N one workgroup computes. */
export const tcColumnsPerGroup = (shape: TcGemvShape): number => TC_COLUMNS * shape.tcGroups

/** The K multiple a tensor-core decoding GEMV needs. */
export const tcGemvKStep = (unroll: number): number => SUBGROUPS * 16 * unroll

/** Bytes of workgroup memory a tensor-core GEMV uses (the norm kinds stage A of K ≤ normK). */
export const tcSharedBytes = (norm: boolean, normK: number, storage: "f16" | "f32"): number =>
  (norm ? 16 * (normK + 8) * (storage === "f16" ? 2 : 4) + 256 * 4 : 0) + SUBGROUPS * 256 * 4

export interface DecodeGemvTcSpec extends Omit<DecodeGemvSpec, "rows" | "shape"> {
  readonly shape: TcGemvShape
  /** the norm kinds' largest K (their normalised A is staged whole); ignored by the others */
  readonly normK: number
}

export const decodeGemvTcWgsl = (s: DecodeGemvTcSpec): string => {
  const S = s.storage
  const U = s.shape.unroll
  const CG = s.shape.tcGroups
  const pair = s.weights === "gate-up"
  const nB = s.weights === "qkv" ? 3 : pair ? 2 : 1
  const nF = pair ? 2 : 1 // weights a column group multiplies
  if (s.norm && s.normK % 4 !== 0) throw new Error(`tensor-core decode GEMV: normK ${s.normK} not a multiple of 4`)
  const bindings = [
    s.norm ? "@group(0) @binding(0) var<storage, read> A: array<vec4<f32>>;" : `@group(0) @binding(0) var<storage, read> A: array<${S}>;`,
    ...range(nB).map((i) => `@group(0) @binding(${1 + i}) var<storage, read> B${i}: array<${S}>;`),
    pair ? `@group(0) @binding(${1 + nB}) var<storage, read_write> Y: array<${S}>;` : `@group(0) @binding(${1 + nB}) var<storage, read_write> Out: array<f32>;`,
    `@group(0) @binding(${2 + nB}) var<uniform> p: P;`,
    ...(s.norm ? [`@group(0) @binding(${3 + nB}) var<storage, read> G: array<vec4<f32>>;`] : [])
  ]
  const acc = (c: number, f: number) => `acc${c}_${f}`
  // the k loop over the weights `ws` (qkv: the one holding this workgroup's columns), their rows from `nb`
  const loop = (ws: ReadonlyArray<string>, nb: string) => `    for (var kk = 0u; kk < kPer; kk += ${16 * U}u) {
      let kb = k0 + kk;
${range(U).flatMap((u) => range(CG).flatMap((c) => ws.map((w, f) => `      let b${c}_${f}_${u} = subgroupMatrixLoad<subgroup_matrix_right<${S}, 16, 16>>(&${w}, (${nb} + n${c}) * p.K + kb + ${16 * u}u, true, p.K);`))).join("\n")}
${range(U).map((u) => (s.norm
    ? `      let a${u} = subgroupMatrixLoad<subgroup_matrix_left<${S}, 16, 16>>(&As, kb + ${16 * u}u, false, KP);`
    : `      let a${u} = subgroupMatrixLoad<subgroup_matrix_left<${S}, 16, 16>>(&A, kb + ${16 * u}u, false, p.K);`)).join("\n")}
${range(U).flatMap((u) => range(CG).flatMap((c) => ws.map((_, f) => `      ${acc(c, f)} = subgroupMatrixMultiplyAccumulate(a${u}, b${c}_${f}_${u}, ${acc(c, f)});`))).join("\n")}
    }`
  const body = s.weights === "qkv"
    ? `  if (first < p.n1) {
${loop(["B0"], "first")}
  } else if (first < p.n2) {
${loop(["B1"], "first - p.n1")}
  } else {
${loop(["B2"], "first - p.n2")}
  }`
    : `  {
${loop(pair ? ["B0", "B1"] : ["B0"], "first")}
  }`
  // one result fragment's 8 slices summed: thread lid holds (row lid / 16, column lid % 16)
  const gather = (c: number, f: number) => `  subgroupMatrixStore(&C, sg * 256u, ${acc(c, f)}, false, 16u);
  workgroupBarrier();
  v = ${range(SUBGROUPS).map((i) => `C[${i * 256}u + lid]`).join(" + ")};
  workgroupBarrier();`
  const write = (c: number) => `  {
    let n = wfirst + ${16 * c}u + col;
    if (row < p.M && n < p.N) {
      ${pair ? `Y[row * p.N + n] = ${S}(g / (1.0 + exp(-g)) * v);` : s.out === "accumulate" ? "Out[row * p.N + n] += v;" : "Out[row * p.N + n] = v;"}
    }
  }`
  const epilogue = range(CG).map((c) => (pair ? `${gather(c, 0)}\n  g = v;\n${gather(c, 1)}\n${write(c)}` : `${gather(c, 0)}\n${write(c)}`)).join("\n")
  const KP = s.normK + 8
  return `${S === "f16" ? "enable f16;\n" : ""}enable subgroups;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);
struct P { M: u32, N: u32, K: u32, n1: u32, n2: u32, _p0: u32, _p1: u32, _p2: u32, eps: f32 }
${bindings.join("\n")}
${s.norm ? `var<workgroup> As: array<${S}, ${16 * KP}>;\nvar<workgroup> ssq: array<f32, 256>;\n` : ""}var<workgroup> C: array<f32, ${SUBGROUPS * 256}>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let sg = lid / 32u; // the slice of K this warp walks
  let wfirst = (wg.x + wg.y * 65535u) * ${16 * CG}u; // the workgroup's first column
  // its column groups; past N the last one again (computed, not written)
  let first = min(wfirst, p.N - 16u);
${range(CG).map((c) => `  let n${c} = min(wfirst + ${16 * c}u, p.N - 16u) - first;`).join("\n")}
  let kPer = p.K / ${SUBGROUPS}u;
  let k0 = sg * kPer;
  let row = lid / 16u;
  let col = lid % 16u;
${s.norm ? `  // the normalised A, f16(x · g / rms), 16 rows staged whole (rows past M zero): thread lid
  // reads row lid / 16 by vec4s from lid % 16, 256 consecutive bytes a row a step
  let K4 = p.K / 4u;
  let KP = p.K + 8u;
  var sq = 0.0;
  if (row < p.M) {
    for (var k4 = col; k4 < K4; k4 += 16u) {
      let x = A[row * K4 + k4];
      sq += dot(x, x);
    }
  }
  ssq[lid] = sq;
  workgroupBarrier();
  var tot = 0.0;
  for (var i = 0u; i < 16u; i++) { tot += ssq[row * 16u + (i + col) % 16u]; }
  let inv = inverseSqrt(tot / f32(p.K) + p.eps);
  for (var k4 = col; k4 < K4; k4 += 16u) {
    var x = vec4<f32>(0.0);
    if (row < p.M) { x = A[row * K4 + k4] * G[k4] * inv; }
    let at = row * KP + k4 * 4u;
    As[at] = ${S}(x.x);
    As[at + 1u] = ${S}(x.y);
    As[at + 2u] = ${S}(x.z);
    As[at + 3u] = ${S}(x.w);
  }
  workgroupBarrier();
` : ""}${range(CG).flatMap((c) => range(nF).map((f) => `  var ${acc(c, f)} = subgroup_matrix_result<f32, 16, 16>();`)).join("\n")}
${body}
  var v = 0.0;
${pair ? "  var g = 0.0;\n" : ""}${epilogue}
}
`
}
