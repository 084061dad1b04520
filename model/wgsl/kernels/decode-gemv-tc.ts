import { range } from "./codegen.ts"
import type { DecodeGemvSpec, DecodeStorage } from "./decode-gemv-spec.ts"

/**
 * The fused decoding GEMVs (decode-layer.ts DecodeGemvSpec: qkv, gate/up + SiLU·up, the residual
 * accumulate, the head) on the tensor cores, for up to 16 rows: the step's 16 tokens are exactly
 * one 16 × 16 left fragment, so C [16, 16 columns] = A [16, K] · B [16 columns, K]ᵀ is a chain of
 * subgroup-matrix products, and the 16 rows no longer cost 16 FMAs and 16 activation loads per
 * weight value. The CUDA-core and blocked GEMVs at 16 rows read their weights at 250–330 GB/s on
 * the H100, a tenth of its bandwidth (BENCHMARKS.md, sessions 14–15): what they wait on is, as far
 * as timings can tell (Dawn gives no counters), that arithmetic around each weight value.
 *
 * A workgroup (8 subgroups of 32 lanes) owns 16 output columns (gate-up: 16 indices, both weights)
 * and splits K into 8 slices, one a subgroup: a Qwen3-0.6B GEMV of N = 1024 is 64 workgroups of 8
 * warps, where one warp a column group left half the SMs idle (session 15's rewrite, reverted).
 * Each subgroup walks its slice `stage` · 16 values of k at a time: its lanes read the weights'
 * tile (16 columns × stage·16 k) and A's (16 rows × stage·16 k) with 16-byte loads, all issued
 * before any is used (bytes in flight), and write them to the subgroup's own tiles in workgroup
 * memory (f16; rows past M zero; the norm kinds' A multiplied by the RMSNorm weight g on the way);
 * then `stage` products from the tiles. Weight fragments are never loaded straight from storage
 * with subgroupMatrixLoad: the driver's cooperative-matrix loads from global memory ran at half the
 * speed of 16-byte loads in the matmul (session 6), and this kernel's predecessor loaded them so.
 * A is never loaded as a fragment from storage either: a fragment of 16 rows reads past a buffer of
 * fewer rows, and the bounds clamp then shifts the whole fragment (session 15's wrong values).
 *
 * The 8 slices' f32 result fragments meet in workgroup memory (`C`, the name the tests' emulation
 * stores into), one fragment a round, and one thread an output adds them, scales the norm kinds by
 * 1/rms (each row's sum of squares taken after the products, from A, which the products just read:
 * L1/L2 hits) and writes (store, accumulate onto the residual, or SiLU(gate)·up). Tile rows are
 * padded by 8 f16 (a pitch of 16·stage + 8): the fragment loads' rows then start on different
 * banks (matmul-tiles' `p8`, the best padding there).
 *
 * `prefetch` (opt-in, session 18; not yet timed on a card): a warp holds one step's loads in
 * registers and issues the next step's before the barrier and the products, instead of waiting a
 * whole memory latency at the top of every step. At 16 rows a GEMV of N = 1024 is 64 workgroups,
 * a warp or two of 8 an SM (the gate/up and qkv GEMVs: 1.5 and 2 workgroups an SM), so the other
 * warps hide little of that wait: session 16's profile read the weights at 0.3–0.5 TB/s in the
 * layers' GEMVs against 0.9 in the lm_head's 9,496 workgroups. Same products in the same order:
 * bit for bit the plain kernel's results.
 *
 * Needs N a multiple of 16 and K a multiple of tcGemvKStep(unroll) (the engine's widths are).
 * `storage` "f32" is the same kernel for the emulated fragments of tests (test/helpers/kernels/
 * subgroup-matrix-emulation.ts) on adapters without tensor cores (unpadded there, to fit
 * SwiftShader's 32 KB of workgroup memory).
 */
export const TC_COLUMNS = 16
/** Subgroups a workgroup unless the spec says (each walks 1 / warps of K). */
export const TC_WARPS = 8
/** Result fragments that meet in workgroup memory at once, at most (8 KB of f32): more warps meet in rounds. */
const MEET = 8

export interface DecodeGemvTcSpec extends Omit<DecodeGemvSpec, "rows" | "shape"> {
  /** 16-value steps of K a subgroup stages at once (gate-up, two weights: half as many) */
  readonly unroll: number
  /** values a tile row is padded by (default padOf(storage)); the tests' emulated f16 form takes 0 to fit SwiftShader */
  readonly pad?: number
  /**
   * true: each step's 16-byte loads are issued before the previous step's products (one step held
   * in registers): a warp's k loop no longer waits a whole memory latency a step (see prefetchLoop)
   */
  readonly prefetch?: boolean
  /**
   * subgroups a workgroup (default 8), each walking 1 / warps of K: more warps, more loads in flight
   * an SM where a GEMV's workgroups are fewer than the SMs (N = 1024: 64 workgroups); 32 · warps
   * threads. Their result fragments meet `meet` at a time (default min(warps, 8)).
   */
  readonly warps?: number
  readonly meet?: number
  /**
   * the accumulating kind only: K walked by `split` workgroups a column group (grid z: the part),
   * so that a GEMV of N = 1024 runs 64 · split workgroups on the SMs instead of 64. Part 0 adds its
   * products onto Out; part s > 0 writes its own to slice s − 1 of `Part` (f32 [split − 1, M, N]),
   * a residual still to add, which the next kinds read as `pending` (opt-in, session 19; not yet
   * timed on a card: bench/gpu/decode-kernels.ts times it)
   */
  readonly split?: number
  /**
   * slices of partial products (a split accumulate's `Part`, f32 [pending, M, K or N]) still to add
   * to the residual: the norm kinds read A + their sum; the accumulating kind adds their sum onto
   * Out with its own products (part 0), so that the residual is whole again
   */
  readonly pending?: number
}

/**
 * A tensor-core GEMV kind's layout (DecodeLayerOptions.shapes, as GemvShape and BlockedGemvShape are
 * the other families'): its staging depth, whether its loads run a step ahead, and its warps. The
 * decode tuner (model/wgsl/decode-tune.ts) times TC_CANDIDATES per kind on the device. Depth and
 * prefetch change no result (each warp sums its slice's products in k order whatever the depth);
 * more warps sum the K slices in another order.
 */
export interface TcGemvShape {
  readonly unroll: number
  readonly prefetch: boolean
  /** subgroups a workgroup (DecodeGemvTcSpec.warps; default 8) */
  readonly warps?: number
}

export const isTcShape = (shape: object): shape is TcGemvShape => "prefetch" in shape

/**
 * The layouts the decode tuner times where the GEMVs run on the tensor cores (those whose K step
 * divides the widths and whose workgroups fit the device): 8 warps at unroll 4 and 2, with and
 * without prefetch, and 16 warps with prefetch at unroll 2 and 1 (the workgroup memory of 16 warps'
 * tiles at 4 is past the 48 KB a card gives).
 */
export const TC_CANDIDATES: ReadonlyArray<TcGemvShape> = [
  ...[4, 2].flatMap((unroll) => [{ unroll, prefetch: false }, { unroll, prefetch: true }]),
  ...[2, 1].map((unroll) => ({ unroll, prefetch: true, warps: 16 }))
]

/** The K multiple a tensor-core decoding GEMV of `warps` subgroups needs (K over `split` workgroups: split times that). */
export const tcGemvKStep = (unroll: number, warps = TC_WARPS, split = 1): number => split * warps * 16 * unroll

/** Steps of 16 k a subgroup stages at once: gate-up stages two weights' tiles, so half as many. */
const stageSteps = (unroll: number, pair: boolean): number => (pair ? Math.max(1, unroll / 2) : unroll)

/** f16 values a tile row is padded by (none for the emulation's f32 tiles). */
const padOf = (storage: DecodeStorage): number => (storage === "f16" ? 8 : 0)

/** Fragments that meet at once: `meet`, else up to MEET. */
const meetOf = (warps: number, meet?: number): number => meet ?? Math.min(warps, MEET)

/** Workgroup memory of one kind's kernel: A's tiles, the weights' tiles, the f32 meeting place C. */
const sharedBytesOf = (storage: DecodeStorage, unroll: number, pair: boolean, warps: number, meet?: number): number => {
  const pitch = 16 * stageSteps(unroll, pair) + padOf(storage)
  return (1 + (pair ? 2 : 1)) * warps * 16 * pitch * (storage === "f16" ? 2 : 4) + meetOf(warps, meet) * 256 * 4
}

/** Bytes of workgroup memory the tensor-core GEMVs of `storage` need at `unroll` and `warps` (the largest kind's). */
export const tcGemvSharedBytes = (storage: DecodeStorage, unroll: number, warps = TC_WARPS): number =>
  Math.max(sharedBytesOf(storage, unroll, false, warps), sharedBytesOf(storage, unroll, true, warps))

export const decodeGemvTcWgsl = (s: DecodeGemvTcSpec): string => {
  const SUBGROUPS = s.warps ?? TC_WARPS
  const G = meetOf(SUBGROUPS, s.meet)
  // C holds G fragments and, for the norm kinds' sums of squares, a value a thread
  if (!Number.isInteger(SUBGROUPS) || SUBGROUPS < 1 || SUBGROUPS % G !== 0 || G * 256 < 32 * SUBGROUPS || 32 * SUBGROUPS < 256) throw new Error(`decode GEMV (tensor cores): ${SUBGROUPS} warps meeting ${G} at a time: at least 8 warps, a whole number of rounds, and a meeting place of a value a thread`)
  const S = s.storage
  const pair = s.weights === "gate-up"
  const SPLIT = s.split ?? 1
  const PENDING = s.pending ?? 0
  if (!Number.isInteger(SPLIT) || SPLIT < 1 || (SPLIT > 1 && (s.out !== "accumulate" || s.norm || s.weights !== "one"))) throw new Error(`decode GEMV (tensor cores): K split over ${SPLIT} workgroups: a whole number, and only for the accumulating kind`)
  if (!Number.isInteger(PENDING) || PENDING < 0 || (PENDING > 0 && !s.norm && s.out !== "accumulate")) throw new Error(`decode GEMV (tensor cores): ${PENDING} pending partials: a whole number, read by the norm kinds or added by the accumulating kind`)
  const SU = stageSteps(s.unroll, pair)
  const PITCH = 16 * SU + (s.pad ?? padOf(S))
  const TILE = 16 * PITCH // one subgroup's tile of 16 rows (or columns)
  const nB = s.weights === "qkv" ? 3 : pair ? 2 : 1
  const nF = pair ? 2 : 1 // result fragments (and weight tiles) a subgroup
  const f16 = S === "f16"
  // storage read 16 bytes at a time: f16 as vec4<u32> (8 values), f32 as vec4<f32> (4); the norm kinds' A is f32
  const wide = f16 ? "vec4<u32>" : "vec4<f32>"
  const VW = f16 ? 8 : 4
  const VA = s.norm ? 4 : VW
  const RA = (16 * SU) / VA // 16-byte units in a row of A's tile
  const RB = (16 * SU) / VW // … of a weight tile's column
  const EA = RA / 2 // units of A's tile a lane (16 rows · RA units over 32 lanes)
  const EB = RB / 2
  const bindings = [
    `@group(0) @binding(0) var<storage, read> A: array<${s.norm ? "vec4<f32>" : wide}>;`,
    ...range(nB).map((i) => `@group(0) @binding(${1 + i}) var<storage, read> B${i}: array<${wide}>;`),
    pair ? `@group(0) @binding(${1 + nB}) var<storage, read_write> Y: array<${S}>;` : `@group(0) @binding(${1 + nB}) var<storage, read_write> Out: array<f32>;`,
    `@group(0) @binding(${2 + nB}) var<uniform> p: P;`,
    ...(s.norm ? [`@group(0) @binding(${3 + nB}) var<storage, read> G: array<vec4<f32>>;`] : []),
    ...(PENDING > 0 ? [`@group(0) @binding(${(s.norm ? 4 : 3) + nB}) var<storage, read> Pend: array<${s.norm ? "vec4<f32>" : "f32"}>;`] : []),
    ...(SPLIT > 1 ? [`@group(0) @binding(${(s.norm ? 4 : 3) + nB + (PENDING > 0 ? 1 : 0)}) var<storage, read_write> Part: array<f32>;`] : [])
  ]
  // the residual's value at `at` of an [M, K] (norm kinds: vec4 units) or [M, N] array: `base`[at] plus every pending slice's
  const withPending = (base: string, at: string, slice: string) => `${base}[${at}]${range(PENDING).map((i) => ` + Pend[${at}${i > 0 ? ` + ${i}u * ${slice}` : ""}]`).join("")}`
  // a unit's values written to a tile from element `at` (f16 words split in pairs; f32 as they are)
  const put = (tile: string, at: string, v: string, packed: boolean, count: number) =>
    packed
      ? range(count / 2).map((w) => `      { let h = bitcast<vec2<${S}>>(${v}.${"xyzw"[w]}); ${tile}[${at} + ${2 * w}u] = h.x; ${tile}[${at} + ${2 * w + 1}u] = h.y; }`).join("\n")
      : range(count).map((c) => `      ${tile}[${at} + ${c}u] = ${S}(${v}.${"xyzw"[c]});`).join("\n")
  // a step's 16-byte loads from k = `kbase` (A's rows past M read nothing): `decl` declares the
  // registers (the plain loop: a step's own; prefetch: once, before the loop), else assigns them
  const AT = s.norm ? "vec4<f32>" : wide
  const laneA = (j: number, indent = "      ") => `let ea${j} = lane + ${32 * j}u;\n${indent}let ra${j} = ea${j} / ${RA}u;`
  const laneB = (f: number, j: number) => `let eb${f}_${j} = lane + ${32 * j}u;`
  const lanes = (weights: ReadonlyArray<string>) => [...range(EA).map((j) => laneA(j, "    ")), ...weights.flatMap((_, f) => range(EB).map((j) => laneB(f, j)))]
  const loadA = (j: number, kbase: string, decl: boolean, indent: string) => `${decl ? "let " : ""}ka${j} = ${kbase} + (ea${j} % ${RA}u) * ${VA}u;
${indent}${decl ? "var " : ""}a${j} = ${AT}();
${indent}if (ra${j} < p.M) { ${PENDING > 0 && s.norm ? `let at = (ra${j} * p.K + ka${j}) / ${VA}u; a${j} = ${withPending("A", "at", "(p.M * p.K / 4u)")};` : `a${j} = A[(ra${j} * p.K + ka${j}) / ${VA}u];`} }${s.norm ? `\n${indent}${decl ? "let " : ""}g${j} = G[ka${j} / 4u];` : ""}`
  const loadB = (w: string, f: number, j: number, nb: string, kbase: string, decl: boolean) =>
    `${decl ? "let " : ""}b${f}_${j} = ${w}[((${nb}) + eb${f}_${j} / ${RB}u) * (p.K / ${VW}u) + (${kbase} + (eb${f}_${j} % ${RB}u) * ${VW}u) / ${VW}u];`
  const loads = (weights: ReadonlyArray<string>, nb: string, kbase: string, indent: string) => [
    ...range(EA).map((j) => loadA(j, kbase, false, indent)),
    ...weights.flatMap((w, f) => range(EB).map((j) => loadB(w, f, j, nb, kbase, false)))
  ].join(`\n${indent}`)
  // the prefetched registers, declared before the loop
  const registers = (weights: ReadonlyArray<string>) => [
    ...range(EA).flatMap((j) => [`var ka${j} = 0u;`, `var a${j} = ${AT}();`, ...(s.norm ? [`var g${j} = vec4<f32>();`] : [])]),
    ...weights.flatMap((_, f) => range(EB).map((j) => `var b${f}_${j} = ${wide}();`))
  ]
  // the step's registers written to the subgroup's tiles
  const stores = (weights: ReadonlyArray<string>) => `${range(EA).map((j) => `      {
        let at = sg * ${TILE}u + ra${j} * ${PITCH}u + (ea${j} % ${RA}u) * ${VA}u;
${s.norm ? put("As", "at", `(a${j} * g${j})`, false, 4) : put("As", "at", `a${j}`, f16, VW)}
      }`).join("\n")}
${weights.flatMap((_, f) => range(EB).map((j) => `      {
        let at = ${f * SUBGROUPS}u * ${TILE}u + sg * ${TILE}u + (eb${f}_${j} / ${RB}u) * ${PITCH}u + (eb${f}_${j} % ${RB}u) * ${VW}u;
${put("Bs", "at", `b${f}_${j}`, f16, VW)}
      }`)).join("\n")}`
  // the step's products from the tiles
  const products = (weights: ReadonlyArray<string>) => range(SU).map((u) => `      {
        let a = subgroupMatrixLoad<subgroup_matrix_left<${S}, 16, 16>>(&As, sg * ${TILE}u + ${16 * u}u, false, ${PITCH}u);
${weights.map((_, f) => `        acc${f} = subgroupMatrixMultiplyAccumulate(a, subgroupMatrixLoad<subgroup_matrix_right<${S}, 16, 16>>(&Bs, ${f * SUBGROUPS}u * ${TILE}u + sg * ${TILE}u + ${16 * u}u, true, ${PITCH}u), acc${f});`).join("\n")}
      }`).join("\n")
  // the k loop over the weights `weights` (qkv: the one holding this workgroup's columns), their rows from `nb`
  const plainLoop = (weights: ReadonlyArray<string>, nb: string) => `    for (var kk = 0u; kk < kPer; kk += ${16 * SU}u) {
      let kbase = k0 + kk;
      // every 16-byte load of the step first (A's rows past M read nothing), then the tiles written
${range(EA).map((j) => `      ${laneA(j)}\n      ${loadA(j, "kbase", true, "      ")}`).join("\n")}
${weights.flatMap((w, f) => range(EB).map((j) => `      ${laneB(f, j)}\n      ${loadB(w, f, j, nb, "kbase", true)}`)).join("\n")}
${stores(weights)}
      workgroupBarrier();
${products(weights)}
      workgroupBarrier(); // the next step overwrites the tiles
    }`
  // prefetch: the step's registers written to the tiles, then the next step's loads issued, so that
  // they are in flight through the barrier and the products (the warps of an SM are few at 16 rows:
  // little else hides a load's latency); the last step issues none
  const prefetchLoop = (weights: ReadonlyArray<string>, nb: string) => `    ${[...lanes(weights), ...registers(weights)].join("\n    ")}
    {
      ${loads(weights, nb, "k0", "      ")}
    }
    for (var kk = 0u; kk < kPer; kk += ${16 * SU}u) {
${stores(weights)}
      if (kk + ${16 * SU}u < kPer) {
        let kbase = k0 + kk + ${16 * SU}u;
        ${loads(weights, nb, "kbase", "        ")}
      }
      workgroupBarrier();
${products(weights)}
      workgroupBarrier(); // the next step overwrites the tiles
    }`
  const loop = s.prefetch ? prefetchLoop : plainLoop
  // more warps than meet at once: round r's G warps store their fragments, every thread of an output
  // (the first 256) adds them, in warp order; the others only keep the barriers
  const meetInRounds = () => range(nF).map((f) => `  var s${f} = 0.0;
${range(SUBGROUPS / G).map((r) => `  if (sg / ${G}u == ${r}u) { subgroupMatrixStore(&C, (sg % ${G}u) * 256u, acc${f}, false, 16u); }
  workgroupBarrier();
  if (lid < 256u) { s${f} += ${range(G).map((i) => `C[${i * 256}u + lid]`).join(" + ")}; }
  workgroupBarrier();`).join("\n")}
  s${f} *= inv;`).join("\n")
  // the accumulating kind's write: its products (and the pending partials) onto Out, or, part s > 0
  // of a split K, its products into slice s − 1 of Part
  const accumulated = () => {
    const onto = `Out[o] = ${withPending("Out", "o", "(p.M * p.N)")} + s0;`
    return SPLIT > 1 ? `let o = row * p.N + n;
    if (part == 0u) { ${onto} } else { Part[(part - 1u) * (p.M * p.N) + o] = s0; }` : PENDING > 0 ? `let o = row * p.N + n;
    ${onto}` : "Out[row * p.N + n] += s0;"
  }
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
  return `${f16 ? "enable f16;\n" : ""}enable subgroups;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);
struct P { M: u32, N: u32, K: u32, n1: u32, n2: u32, _p0: u32, _p1: u32, _p2: u32, eps: f32 }
${bindings.join("\n")}
var<workgroup> As: array<${S}, ${SUBGROUPS * TILE}>;
var<workgroup> Bs: array<${S}, ${nF * SUBGROUPS * TILE}>;
var<workgroup> C: array<f32, ${G * 256}>;
@compute @workgroup_size(${32 * SUBGROUPS})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let sg = lid / 32u; // the slice of K this warp walks
  let lane = lid % 32u;
  let n0 = (wg.x + wg.y * 65535u) * 16u; // the workgroup's first column
${SPLIT > 1 ? `  let part = wg.z; // the part of K this workgroup walks (of ${SPLIT})
  let kPer = p.K / ${SUBGROUPS * SPLIT}u;
  let k0 = (part * ${SUBGROUPS}u + sg) * kPer;` : `  let kPer = p.K / ${SUBGROUPS}u;
  let k0 = sg * kPer;`}
${range(nF).map((f) => `  var acc${f} = subgroup_matrix_result<f32, 16, 16>();`).join("\n")}
${body}
  // thread lid: output (row, col); each round, the 8 slices' fragments of one result meet in C
  let row = lid / 16u;
  let col = lid % 16u;
  let n = n0 + col;
${s.norm ? `  // the row's sum of squares: 16 threads a row, each every 16th vec4 of it (rows past M: 0)
  var sq = 0.0;
  if (row < p.M) {
    for (var k4 = col; k4 < p.K / 4u; k4 += 16u) {
      let a = ${PENDING > 0 ? withPending("A", "row * (p.K / 4u) + k4", "(p.M * p.K / 4u)") : "A[row * (p.K / 4u) + k4]"};
      sq += dot(a, a);
    }
  }
  C[lid] = sq;
  workgroupBarrier();
  var ss = 0.0;
  for (var i = 0u; i < 16u; i++) { ss += C[row * 16u + i]; }
  let inv = inverseSqrt(ss / f32(p.K) + p.eps); // 1/rms of the row
  workgroupBarrier();
` : "  let inv = 1.0;\n"}${G === SUBGROUPS ? range(nF).map((f) => `  subgroupMatrixStore(&C, sg * 256u, acc${f}, false, 16u);
  workgroupBarrier();
  let s${f} = (${range(G).map((i) => `C[${i * 256}u + row * 16u + col]`).join(" + ")}) * inv;${f + 1 < nF ? "\n  workgroupBarrier();" : ""}`).join("\n") : meetInRounds()}
  if (row < p.M && n < p.N) {
    ${pair ? `Y[row * p.N + n] = ${S}(s0 / (1.0 + exp(-s0)) * s1);` : s.out === "accumulate" ? accumulated() : "Out[row * p.N + n] = s0;"}
  }
}
`
}
