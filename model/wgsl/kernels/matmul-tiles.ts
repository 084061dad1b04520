import { NF4_CODE } from "../../formats/nf4.ts"
import { range } from "./codegen.ts"
import type { WeightFormat, WeightLayout } from "./weight-format.ts"

/**
 * The tensor-core matmul with a workgroup tile shared by several subgroups:
 *   C[M,N] (f32) (= or +=) A[M,K] (f16) · op(B), B f16 or NF4, stored [N,K] ("nk") or [K,N] ("kn")
 * (the same contract as matmul.ts's kernels, whose plan picks among these shapes per problem).
 *
 * A workgroup computes a BM×BN tile of C with SGM×SGN subgroups, each a (BM/SGM)×(BN/SGN) block
 * of F×F fragments. Every BK-deep slab of A and B goes through workgroup memory once for all the
 * subgroups (a one-subgroup 64×64 tile reads each operand element 1/64 as often per flop as a
 * 128×256 tile does twice that), loaded 8 elements (16 bytes, or one NF4 word) a lane. With
 * `stages` 2 the slab after the current one is read into registers before the current one's
 * products and stored into the other half of workgroup memory after them, so the global reads of
 * slab k+1 overlap the tensor-core work of slab k and one barrier a slab suffices.
 *
 * The obstacle that kept the old kernel at one subgroup a workgroup: Tint's uniformity analysis
 * wants subgroupMatrixLoad/Store offsets uniform across the *workgroup*, and a subgroup's offset
 * depends on its index (lid / 32), which is uniform only across the subgroup — all the hardware
 * needs. `diagnostic(off, chromium.subgroup_matrix_uniformity)` turns that check off for this
 * module; every offset here is a function of the workgroup id, the subgroup index and constants,
 * so it is subgroup-uniform by construction. Subgroups are 32 lanes of consecutive
 * local_invocation_index (NVIDIA; the plan compiles these kernels only where the adapter's
 * subgroup size is 32).
 *
 * Workgroups walk C in groups of `group` tile rows (row-major inside a group) so that the tiles
 * running at once share A rows and B columns in L2.
 */

export interface TileConfig {
  readonly BM: number
  readonly BN: number
  readonly BK: number
  /** subgroups along M and N */
  readonly SGM: number
  readonly SGN: number
  /** 1: load, barrier, multiply, barrier; 2: register prefetch into a second buffer */
  readonly stages: 1 | 2
  /** tile rows a group of workgroups walks before moving along N (1 = plain row-major order) */
  readonly group: number
}

/** Padding (f16 elements) of every workgroup-memory row: 16 bytes keeps fragment rows aligned and off one bank. */
const PAD = 8

export const tileName = (c: TileConfig): string => `t${c.BM}x${c.BN}x${c.BK}-sg${c.SGM}x${c.SGN}-s${c.stages}-g${c.group}`

export const tileThreads = (c: TileConfig): number => 32 * c.SGM * c.SGN

/** Workgroup memory (bytes) a configuration needs. */
export const tileSharedBytes = (c: TileConfig, weight: WeightLayout): number => {
  const a = c.BM * (c.BK + PAD)
  const b = weight === "nk" ? c.BN * (c.BK + PAD) : c.BK * (c.BN + PAD)
  return c.stages * (a + b) * 2 + 64
}

/** Whether the configuration tiles a problem exactly (the plan pads nothing: M, N multiples of 128, K of 64). */
export const tileFits = (c: TileConfig, M: number, N: number, K: number): boolean => M % c.BM === 0 && N % c.BN === 0 && K % c.BK === 0

/** Whether the configuration is well formed for fragments of F. */
export const tileValid = (c: TileConfig, F: number): boolean => {
  const threads = tileThreads(c)
  const WM = c.BM / c.SGM
  const WN = c.BN / c.SGN
  return Number.isInteger(WM / F) && Number.isInteger(WN / F) && c.BK % F === 0 && c.BK % 8 === 0 && threads <= 256 &&
    ((c.BM * c.BK) / 8) % threads === 0 && ((c.BN * c.BK) / 8) % threads === 0
}

/**
 * The WGSL of one configuration. Bindings as matmul.ts: A, B (or Bq + absmax at 4), C, params {M, N, K, _}.
 * `splitK`: workgroup z takes K from z·Ks to min(K, (z+1)·Ks) (Ks = params' fourth word, a
 * multiple of BK) and writes its partial product to C + z·M·N (split-k.ts sums the partials), so
 * that a product with few output tiles and a long K still fills the multiprocessors.
 */
export const tiledTensorCoreWgsl = (c: TileConfig, F: number, format: WeightFormat, accumulate: boolean, weight: WeightLayout, splitK = false): string => {
  const { BM, BN, BK, SGM, SGN, stages } = c
  const threads = tileThreads(c)
  const WM = BM / SGM
  const WN = BN / SGN
  const FM = WM / F
  const FN = WN / F
  const AST = BK + PAD
  const BST = weight === "nk" ? BK + PAD : BN + PAD
  const SA = BM * AST // one stage of A
  const SB = weight === "nk" ? BN * BST : BK * BST
  const aUnits = (BM * BK) / 8 / threads
  const bUnits = (BN * BK) / 8 / threads
  const nf4 = format === "nf4"

  // unit u of a thread: 8 consecutive elements of a stored row; rows × len/8 units a tile
  const unitAt = (u: number, len: number) => `let idx${u} = lid + ${u * threads}u;
    let row${u} = idx${u} / ${len / 8}u;
    let col${u} = (idx${u} % ${len / 8}u) * 8u;`
  const aLoad = range(aUnits).map((u) => `    {
      ${unitAt(u, BK)}
      ra${u} = A8[((m0 + row${u}) * p.K + k0n + col${u}) / 8u];
    }`).join("\n")
  const aStore = range(aUnits).map((u) => `    {
      ${unitAt(u, BK)}
      let o = st * ${SA}u + row${u} * ${AST}u + col${u};
${range(4).map((w) => `      { let h = bitcast<vec2<f16>>(ra${u}[${w}]); As[o + ${2 * w}u] = h.x; As[o + ${2 * w + 1}u] = h.y; }`).join("\n")}
    }`).join("\n")
  // B: rows are n ("nk", len BK) or k ("kn", len BN); element index of the unit in B's storage
  const bLen = weight === "nk" ? BK : BN
  const bElement = (u: number) => (weight === "nk" ? `(n0 + row${u}) * p.K + k0n + col${u}` : `(k0n + row${u}) * p.N + n0 + col${u}`)
  const bLoad = range(bUnits).map((u) => `    {
      ${unitAt(u, bLen)}
      let e = ${bElement(u)};
${nf4 ? `      rb${u} = Bq[e / 8u];
      rs${u} = absmax[e / 64u];` : `      rb${u} = B8[e / 8u];`}
    }`).join("\n")
  const bStore = range(bUnits).map((u) => `    {
      ${unitAt(u, bLen)}
      let o = st * ${SB}u + row${u} * ${BST}u + col${u};
${nf4
    ? range(4).map((b) => `      Bs[o + ${2 * b}u] = f16(NF4[(rb${u} >> ${8 * b + 4}u) & 15u] * rs${u}); Bs[o + ${2 * b + 1}u] = f16(NF4[(rb${u} >> ${8 * b}u) & 15u] * rs${u});`).join("\n")
    : range(4).map((w) => `      { let h = bitcast<vec2<f16>>(rb${u}[${w}]); Bs[o + ${2 * w}u] = h.x; Bs[o + ${2 * w + 1}u] = h.y; }`).join("\n")}
    }`).join("\n")

  const products = range(BK / F).map((s) => {
    const kk = s * F
    const bFrag = (j: number) => (weight === "nk"
      ? `subgroupMatrixLoad<subgroup_matrix_right<f16, ${F}, ${F}>>(&Bs, bBase + ${j * F * BST + kk}u, true, ${BST}u)`
      : `subgroupMatrixLoad<subgroup_matrix_right<f16, ${F}, ${F}>>(&Bs, bBase + ${kk * BST + j * F}u, false, ${BST}u)`)
    return `    {
${range(FN).map((j) => `      let b${j} = ${bFrag(j)};`).join("\n")}
${range(FM).map((i) => `      {
        let a = subgroupMatrixLoad<subgroup_matrix_left<f16, ${F}, ${F}>>(&As, aBase + ${i * F * AST + kk}u, false, ${AST}u);
${range(FN).map((j) => `        acc_${i}_${j} = subgroupMatrixMultiplyAccumulate(a, b${j}, acc_${i}_${j});`).join("\n")}
      }`).join("\n")}
    }`
  }).join("\n")

  const bases = (stage: string) => `    let aBase = ${stage} * ${SA}u + sm * ${WM * AST}u;
    let bBase = ${stage} * ${SB}u + ${weight === "nk" ? `sn * ${WN * BST}u` : `sn * ${WN}u`};`
  const cAt = (i: number, j: number) => `cBase + ${i * F}u * p.N + ${j * F}u`

  // the K range of this workgroup: all of K, or its split's
  const kFrom = splitK ? "kBegin" : "0u"
  const kTo = splitK ? "kEnd" : "p.K"
  const body = stages === 1
    ? `  for (var k0 = ${kFrom}; k0 < ${kTo}; k0 += ${BK}u) {
    let k0n = k0;
    let st = 0u;
${aLoad}
${bLoad}
${aStore}
${bStore}
    workgroupBarrier();
${bases("0u")}
${products}
    workgroupBarrier();
  }`
    : `  {
    let k0n = ${kFrom};
    let st = 0u;
${aLoad}
${bLoad}
${aStore}
${bStore}
  }
  workgroupBarrier();
  for (var k0 = ${kFrom}; k0 < ${kTo}; k0 += ${BK}u) {
    let cur = (${splitK ? "(k0 - kBegin)" : "k0"} / ${BK}u) & 1u;
    let k0n = k0 + ${BK}u;
    let more = k0n < ${kTo};
    if (more) {
${aLoad}
${bLoad}
    }
${bases("cur")}
${products}
    if (more) {
      let st = 1u - cur;
${aStore}
${bStore}
    }
    workgroupBarrier();
  }`

  return `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);
struct P { M: u32, N: u32, K: u32, ${splitK ? "Ks" : "_pad"}: u32 }
@group(0) @binding(0) var<storage, read> A8: array<vec4<u32>>;
${nf4 ? `@group(0) @binding(1) var<storage, read> Bq: array<u32>;
@group(0) @binding(4) var<storage, read> absmax: array<f32>;
const NF4_CODE = array<f32, 16>(${[...NF4_CODE].map((v) => v.toFixed(10)).join(", ")});
var<workgroup> NF4: array<f32, 16>;` : "@group(0) @binding(1) var<storage, read> B8: array<vec4<u32>>;"}
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
var<workgroup> As: array<f16, ${stages * SA}>;
var<workgroup> Bs: array<f16, ${stages * SB}>;

@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {${splitK ? `
  let kBegin = wg.z * p.Ks;
  let kEnd = min(p.K, kBegin + p.Ks);` : ""}
  // grouped order: ${c.group} tile rows at a time, so that the workgroups in flight share operands in L2
  let pid = wg.y * nwg.x + wg.x;
  let inGroup = ${c.group}u * nwg.x;
  let firstM = (pid / inGroup) * ${c.group}u;
  let rows = min(nwg.y - firstM, ${c.group}u);
  let tm = firstM + (pid % inGroup) % rows;
  let tn = (pid % inGroup) / rows;
  let m0 = tm * ${BM}u;
  let n0 = tn * ${BN}u;
  let sg = lid / 32u;
  let sm = sg / ${SGN}u;
  let sn = sg % ${SGN}u;
  let cBase = ${splitK ? "wg.z * p.M * p.N + " : ""}(m0 + sm * ${WM}u) * p.N + n0 + sn * ${WN}u;
${nf4 ? "  if (lid < 16u) { NF4[lid] = NF4_CODE[lid]; }\n  workgroupBarrier();\n" : ""}${range(aUnits).map((u) => `  var ra${u}: vec4<u32>;`).join("\n")}
${range(bUnits).map((u) => (nf4 ? `  var rb${u}: u32;\n  var rs${u}: f32;` : `  var rb${u}: vec4<u32>;`)).join("\n")}
${range(FM).flatMap((i) => range(FN).map((j) => accumulate
    ? `  var acc_${i}_${j} = subgroupMatrixLoad<subgroup_matrix_result<f32, ${F}, ${F}>>(&C, ${cAt(i, j)}, false, p.N);`
    : `  var acc_${i}_${j} = subgroup_matrix_result<f32, ${F}, ${F}>();`)).join("\n")}
${body}
${range(FM).flatMap((i) => range(FN).map((j) => `  subgroupMatrixStore(&C, ${cAt(i, j)}, acc_${i}_${j}, false, p.N);`)).join("\n")}
}
`
}

/** Configurations the autotuner tries, largest tiles first (the plan keeps those that compile and fit). */
export const TILE_CONFIGS: ReadonlyArray<TileConfig> = [
  { BM: 128, BN: 256, BK: 32, SGM: 2, SGN: 4, stages: 1, group: 8 },
  { BM: 128, BN: 256, BK: 16, SGM: 2, SGN: 4, stages: 2, group: 8 },
  { BM: 256, BN: 128, BK: 32, SGM: 4, SGN: 2, stages: 1, group: 8 },
  { BM: 256, BN: 128, BK: 16, SGM: 4, SGN: 2, stages: 2, group: 8 },
  { BM: 128, BN: 128, BK: 32, SGM: 2, SGN: 2, stages: 2, group: 8 },
  { BM: 128, BN: 128, BK: 32, SGM: 2, SGN: 4, stages: 2, group: 8 },
  { BM: 128, BN: 128, BK: 32, SGM: 4, SGN: 2, stages: 2, group: 8 },
  { BM: 128, BN: 128, BK: 64, SGM: 2, SGN: 2, stages: 1, group: 8 },
  { BM: 128, BN: 128, BK: 32, SGM: 2, SGN: 2, stages: 1, group: 8 },
  { BM: 128, BN: 128, BK: 32, SGM: 2, SGN: 2, stages: 2, group: 1 },
  { BM: 64, BN: 128, BK: 32, SGM: 2, SGN: 2, stages: 2, group: 8 },
  { BM: 128, BN: 64, BK: 32, SGM: 2, SGN: 2, stages: 2, group: 8 },
  { BM: 64, BN: 64, BK: 32, SGM: 2, SGN: 2, stages: 2, group: 8 }
]
