import { range } from "./codegen.ts"
import type { DecodeGemvSpec } from "./decode-gemv-spec.ts"

/**
 * The fused decoding GEMVs (decode-gemv-spec.ts: qkv, gate/up + SiLU·up, the residual accumulate,
 * the head; same bindings and uniform as decode-layer.ts decodeGemvWgsl) for 8 or 16 rows, laid
 * out to read the weights at memory speed. At 16 rows the CUDA-core GEMV moved ~300 GB/s of
 * weights on the H100 (BENCHMARKS.md, session 7): 32 threads a column walking K 8 bytes at a
 * time, each weight vec4 costing 16 activation loads from L1, and only N/16 workgroups (64 for the
 * o and down GEMVs of Qwen3-0.6B on 132 SMs). Here:
 *
 * - a 256-thread workgroup owns `warpColumns` · `columns` output columns and spreads K over all
 *   its threads: each block of 32 threads holds `warpColumns` column lanes side by side, each with
 *   32 / warpColumns threads along K, and the 8 blocks split K between them. A narrow N (1024) so
 *   gets N / 4 … N / 16 workgroups, every thread a few loads of K;
 * - every weight load is 16 bytes (8 f16 values: B bound as vec4<u32>, unpacked in pairs), the
 *   threads of a column lane read consecutive 16-byte runs of the column's row, and each thread
 *   issues `unroll` loads of each of its columns before it uses them (bytes in flight);
 * - one activation load (8 values of a row) serves `columns` columns of the thread (gate-up: both
 *   weights), and the `warpColumns` column lanes of a block read the same activations (one
 *   broadcast from L1, not one load a column). Activations are not staged in workgroup memory:
 *   no two blocks of a workgroup read the same ones (K is split between them), so a copy would
 *   add a pass and a barrier without reuse;
 * - the partial sums of each (row, column) over the workgroup's threads meet in workgroup memory
 *   in two stages (each thread adds R partials of one output, then T of those meet; the reads
 *   laid out free of bank conflicts), one set of accumulators (a column, or the norm's sums of
 *   squares) at a time: 256 · R floats of it;
 * - no subgroup operations: the "blocks of 32" are an index layout, right for any subgroup size
 *   (SwiftShader's 4 lanes included).
 *
 * The RMSNorm kinds sum each row's squares from the activations they read anyway; every column
 * lane walks the whole of K once, so each lane's sum is the row's exact sum (its own, no second
 * pass); or, with `squaresApart`, the workgroup's 256 threads sum them once in a loop of their own
 * after the products (over the whole of K: exact too). K must be a multiple of 8 (16 bytes of f16), N of the workgroup's columns for qkv's
 * boundaries, as decodeGemvWgsl's.
 */
export interface BlockedGemvShape {
  /** output columns a thread (gate-up: the gate and up columns of each of these indices) */
  readonly columns: 1 | 2 | 4
  /** column lanes side by side in a block of 32 threads (the other 32 / warpColumns threads of a lane split K) */
  readonly warpColumns: 2 | 4 | 8
  /** 16-byte weight loads of each column a thread issues together */
  readonly unroll: 1 | 2 | 4
  /**
   * the norm kinds' sums of squares: false (default) in the products' loop, from the activations
   * loaded there (every column lane sums them: warpColumns-fold redundant FMAs); true after it, in a
   * loop of their own over A (R · K / 256 values a thread, reloaded from L1/L2): fewer FMAs, more loads
   */
  readonly squaresApart?: boolean
}

export const DEFAULT_BLOCKED_SHAPE: BlockedGemvShape = { columns: 1, warpColumns: 4, unroll: 2 }

/** Whether a layout is a blocked one (the CUDA-core GemvShape has slices instead). */
export const isBlockedShape = (shape: object): shape is BlockedGemvShape => "warpColumns" in shape

/** The layouts the decode tuner times (model/wgsl/decode-tune.ts) where the blocked GEMVs are asked for. */
export const BLOCKED_CANDIDATES: ReadonlyArray<BlockedGemvShape> = [
  { columns: 1, warpColumns: 4, unroll: 2 }, { columns: 2, warpColumns: 4, unroll: 2 }, { columns: 1, warpColumns: 8, unroll: 2 },
  { columns: 2, warpColumns: 8, unroll: 1 }, { columns: 2, warpColumns: 2, unroll: 2 }, { columns: 4, warpColumns: 4, unroll: 1 },
  { columns: 1, warpColumns: 4, unroll: 4 }, { columns: 1, warpColumns: 4, unroll: 2, squaresApart: true }, { columns: 2, warpColumns: 8, unroll: 1, squaresApart: true }
]

/** Rows the blocked GEMVs are written for: 8 or 16 (fewer rows keep decodeGemvWgsl). */
export const BLOCKED_ROWS: ReadonlyArray<number> = [8, 16]

/** Columns of N one workgroup computes. */
export const blockedColumnsPerGroup = (shape: BlockedGemvShape): number => shape.warpColumns * shape.columns

/** Bytes of workgroup memory a blocked GEMV of R rows uses. */
export const blockedSharedBytes = (R: number): number => (256 * R + 288) * 4

export interface DecodeGemvBlockedSpec extends Omit<DecodeGemvSpec, "rows" | "shape" | "subgroupReduce" | "combine"> {
  /** 8 or 16 */
  readonly rows: number
  readonly shape?: BlockedGemvShape
}

export const decodeGemvBlockedWgsl = (s: DecodeGemvBlockedSpec): string => {
  const R = s.rows
  if (!BLOCKED_ROWS.includes(R)) throw new Error(`blocked decode GEMV: written for 8 or 16 rows, not ${R}`)
  const S = s.storage
  const shape = s.shape ?? DEFAULT_BLOCKED_SHAPE
  const CW = shape.warpColumns
  const KW = 32 / CW // threads along K in a column lane of a block
  const KT = 8 * KW // threads along K in the workgroup (8 blocks)
  const cols = shape.columns
  const U = shape.unroll
  const pair = s.weights === "gate-up"
  const nB = s.weights === "qkv" ? 3 : pair ? 2 : 1
  const nAcc = pair ? 2 * cols : cols // gate-up: gate of column j is 2j, up 2j + 1
  const O = R * CW // outputs of one accumulator set in a workgroup
  const T = 256 / O // threads adding one output's partials in the first stage (R each)
  // 8 values of K as two f32 vec4s: f16 storage is read 16 bytes at a time (vec4<u32>, f16 pairs)
  const wide = S === "f16" ? "vec4<u32>" : "vec4<f32>"
  const aWide = s.norm ? "vec4<f32>" : wide
  const bindings = [
    `@group(0) @binding(0) var<storage, read> A: array<${aWide}>;`,
    ...range(nB).map((i) => `@group(0) @binding(${1 + i}) var<storage, read> B${i}: array<${wide}>;`),
    pair ? `@group(0) @binding(${1 + nB}) var<storage, read_write> Y: array<${S}>;` : `@group(0) @binding(${1 + nB}) var<storage, read_write> C: array<f32>;`,
    `@group(0) @binding(${2 + nB}) var<uniform> p: P;`,
    ...(s.norm ? [`@group(0) @binding(${3 + nB}) var<storage, read> G: array<vec4<f32>>;`] : [])
  ]
  // 8 values at index i (in units of 8 values) of a binding holding `wide` elements
  const eight = (buf: string, i: string, packed: boolean) => (packed ? `unpack8(${buf}[${i}])` : `V8(${buf}[(${i}) * 2u], ${buf}[(${i}) * 2u + 1u])`)
  const f16 = S === "f16"
  const weight = (which: number, n: string, k: string) => (s.weights === "qkv" ? `weightQkv(${n}, ${k}, K8)` : eight(`B${which}`, `${n} * K8 + ${k}`, f16))
  const activation = (r: number | string, k: string) => eight("A", `${typeof r === "number" ? `${r}u` : r} * K8 + ${k}`, !s.norm && f16)
  // the norm's sums of squares in the products' loop (every column lane), or in a loop of their own after it
  const inline = s.norm && shape.squaresApart !== true
  const apart = s.norm && shape.squaresApart === true
  const TPR = 256 / R // threads a row in the loop apart
  const S2 = O + 32 / T // stage 2's stride between parts: a warp's stage-1 writes and stage-2 reads on distinct banks
  const acc = (j: number, r: number) => `acc${j}_${r}`
  // the weight registers of accumulator j: gate-up's 2c and 2c + 1 read B0 and B1 of column c
  const wOf = (j: number) => (pair ? { which: j % 2, col: Math.floor(j / 2) } : { which: 0, col: j })
  const sets: ReadonlyArray<readonly [string, (r: number) => string]> = [...(inline ? [["ss", (r: number) => `ss_${r}`] as const] : []), ...range(nAcc).map((j) => [`s${j}`, (r: number) => acc(j, r)] as const)]
  // f16 weights and activations are read as u32 pairs: only gate-up's f16 output needs the extension
  // (so the other kinds' f16 kernels also run, and are tested, on adapters without shader-f16)
  return `${f16 && pair ? "enable f16;\n" : ""}struct P { M: u32, N: u32, K: u32, n1: u32, n2: u32, _p0: u32, _p1: u32, _p2: u32, eps: f32 }
struct V8 { lo: vec4<f32>, hi: vec4<f32> }
${bindings.join("\n")}
var<workgroup> red: array<f32, ${256 * R}>;
var<workgroup> red2: array<f32, 288>;
fn unpack8(v: vec4<u32>) -> V8 {
  return V8(vec4<f32>(unpack2x16float(v.x), unpack2x16float(v.y)), vec4<f32>(unpack2x16float(v.z), unpack2x16float(v.w)));
}
fn dot8(a: V8, b: V8) -> f32 { return dot(a.lo, b.lo) + dot(a.hi, b.hi); }
fn scale8(a: V8, b: V8) -> V8 { return V8(a.lo * b.lo, a.hi * b.hi); }
${s.weights === "qkv" ? `// the weight whose columns hold n (its boundaries fall between workgroups: the branch is uniform)
fn weightQkv(n: u32, k: u32, K8: u32) -> V8 {
  if (n < p.n1) { return ${eight("B0", "n * K8 + k", f16)}; }
  if (n < p.n2) { return ${eight("B1", "(n - p.n1) * K8 + k", f16)}; }
  return ${eight("B2", "(n - p.n2) * K8 + k", f16)};
}
` : ""}@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // thread lid = block · 32 + lane · ${KW} + kl: column lane \`lane\` of the block, kl-th of its ${KW} threads along K
  let kl = lid % ${KW}u;
  let lane = (lid / ${KW}u) % ${CW}u;
  let kt = (lid / 32u) * ${KW}u + kl; // this thread's place along K (of ${KT}): it reads 8 values at kt, kt + ${KT}, …
  let K8 = p.K / 8u;
  let first = (wg.x + wg.y * 65535u) * ${CW * cols}u + lane * ${cols}u;
${range(cols).map((j) => `  let n${j} = min(first + ${j}u, p.N - 1u);`).join("\n")}
${range(nAcc).flatMap((j) => range(R).map((r) => `  var ${acc(j, r)} = 0.0;`)).join("\n")}
${inline ? range(R).map((r) => `  var ss_${r} = 0.0;`).join("\n") : ""}
  let zero = V8(vec4<f32>(0.0), vec4<f32>(0.0));
  for (var kb = kt; kb < K8; kb += ${KT * U}u) {
    // ${U} loads of each column issued together (in flight at once), then used; past K a weight
    // of 0 (the load reads a valid, clamped index)
${range(U).map((u) => `    let on${u} = kb + ${u * KT}u < K8;
    let k${u} = min(kb + ${u * KT}u, K8 - 1u);
${range(nAcc).map((j) => `    var w${j}_${u} = ${weight(wOf(j).which, `n${wOf(j).col}`, `k${u}`)};`).join("\n")}
${range(nAcc).map((j) => `    if (!on${u}) { w${j}_${u} = zero; }`).join("\n")}`).join("\n")}
${s.norm ? range(U).map((u) => `    let g${u} = V8(G[k${u} * 2u], G[k${u} * 2u + 1u]);\n${range(nAcc).map((j) => `    w${j}_${u} = scale8(w${j}_${u}, g${u});`).join("\n")}`).join("\n") : ""}
${range(R).map((r) => `    if (${r}u < p.M) {
${range(U).map((u) => `      let a${u} = ${activation(r, `k${u}`)};`).join("\n")}
${range(nAcc).map((j) => `      ${acc(j, r)} += ${range(U).map((u) => `dot8(w${j}_${u}, a${u})`).join(" + ")};`).join("\n")}
${inline ? `      ss_${r} += ${range(U).map((u) => `select(0.0, dot8(a${u}, a${u}), on${u})`).join(" + ")};` : ""}
    }`).join("\n")}
  }
  // each set's partial sums meet in two stages: thread lid adds ${R} of the ${R * T} partials of output
  // o = lid / ${T} (row o / ${CW}, lane o % ${CW}), every ${T}th from part = lid % ${T}, then thread o < ${O}
  // adds that output's ${T}. Conflict-free reads: a lane's partials lie in its ${KW} banks, the ${T}
  // parts of an output read ${T} consecutive ones at each step, and ${R === 16 ? `the two rows of a warp start
  // ${T} apart (one step of rotation for odd rows)` : "a warp holds one row"}; stage 2's parts ${S2} apart
  let o = lid / ${T}u;
  let orow = o / ${CW}u;
  let olane = o % ${CW}u;
  let part = lid % ${T}u;
  let rot = orow % ${R / 8}u;
${sets.map(([name]) => `  var ${name} = 0.0;`).join("\n")}
${apart ? `  // each row's sum of squares: thread lid adds row lid / ${TPR}'s 8-value runs of K from lid % ${TPR} by ${TPR}
  // (A was just read by the products: L1/L2 hits), then thread o < ${O} adds its row's ${TPR}
  var ss = 0.0;
  {
    let sr = lid / ${TPR}u;
    var sq = 0.0;
    if (sr < p.M) {
      for (var k = lid % ${TPR}u; k < K8; k += ${TPR}u) {
        let a = ${activation("sr", "k")};
        sq += dot8(a, a);
      }
    }
    red2[lid] = sq;
  }
  workgroupBarrier();
  if (lid < ${O}u) {
    var v = 0.0;
    for (var i = 0u; i < ${TPR}u; i++) { v += red2[(lid / ${CW}u) * ${TPR}u + i]; } // row lid / ${CW}, as it writes
    ss = v;
  }
` : ""}${sets.map(([name, of]) => `  workgroupBarrier();
${range(R).map((r) => `  red[${r * 256}u + lid] = ${of(r)};`).join("\n")}
  workgroupBarrier();
  {
    var v = 0.0;
    for (var j = 0u; j < ${R}u; j++) {
      let i = ((j + rot) % ${R}u) * ${T}u + part; // the output's partial i: block i / ${KW}, thread i % ${KW} of the lane
      v += red[orow * 256u + (i / ${KW}u) * 32u + olane * ${KW}u + i % ${KW}u];
    }
    red2[part * ${S2}u + o] = v;
  }
  workgroupBarrier();
  if (lid < ${O}u) {
    var v = 0.0;
    for (var i = 0u; i < ${T}u; i++) { v += red2[i * ${S2}u + lid]; }
    ${name} = v;
  }`).join("\n")}
  // thread o < ${O} writes row o / ${CW}, columns first of lane o % ${CW}
  let row = lid / ${CW}u;
  let out0 = (wg.x + wg.y * 65535u) * ${CW * cols}u + (lid % ${CW}u) * ${cols}u;
  if (lid < ${O}u && row < p.M) {
${s.norm ? "    let inv = inverseSqrt(ss / f32(p.K) + p.eps); // 1/rms of the row\n" : "    let inv = 1.0;\n"}${range(cols).map((j) => `    if (out0 + ${j}u < p.N) {
      ${pair ? `let g = s${2 * j} * inv;
      Y[row * p.N + out0 + ${j}u] = ${S}(g / (1.0 + exp(-g)) * s${2 * j + 1} * inv);` : s.out === "accumulate" ? `C[row * p.N + out0 + ${j}u] += s${j} * inv;` : `C[row * p.N + out0 + ${j}u] = s${j} * inv;`}
    }`).join("\n")}
  }
}
`
}
