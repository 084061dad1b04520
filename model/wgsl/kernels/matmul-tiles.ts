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
  /** padding (f16 elements) of every workgroup-memory row; default 8 (16 bytes: rows stay 16-byte aligned, ldmatrix-style row reads spread over the banks) */
  readonly pad?: number
  /**
   * How a slab goes from global to workgroup memory. "lanes" (default): every lane reads 16 bytes
   * (a vec4<u32>) and writes them as 8 f16 stores (WGSL writes f16 workgroup arrays one element at
   * a time). "frag": each subgroup copies whole F×F blocks with subgroupMatrixLoad from the storage
   * buffer and subgroupMatrixStore into workgroup memory, so the driver picks the access width (the
   * Vulkan spec guarantees it 16-byte alignment); f16 operands only (an NF4 B slab stays "lanes").
   */
  readonly copy?: "lanes" | "frag"
  /**
   * How the B slab sits in workgroup memory: "nk" rows of n (right fragments loaded column-major),
   * "kn" rows of k (loaded row-major). Default: as B is stored. Differing from storage transposes
   * it on the way in.
   */
  readonly bSlab?: WeightLayout
  /**
   * Operands whose fragments are loaded straight from the storage buffer in the products, not
   * staged ("b": B only; "ab": both, then the kernel has no workgroup memory and no barrier and the
   * reuse between subgroups is left to L1). f16 only.
   */
  readonly direct?: "b" | "ab"
  /**
   * Extra subgroups that only stage slabs (warp specialisation, with `stages` 2): while the
   * SGM×SGN subgroups multiply slab k out of one half of workgroup memory, these store slab k+1
   * (already in their registers) into the other half and read slab k+2 from global memory, so the
   * tensor-core subgroups issue no staging instructions at all and the global reads have a whole
   * slab's products to land. WGSL has no asynchronous copies (cp.async/TMA); this is the nearest.
   */
  readonly producers?: number
  /**
   * "lanes" staging writes each lane's 16 bytes as 4 pairs of f16 stores; store j of every lane in
   * a subgroup lands at word j of its 16-byte unit, and with rows a multiple of 16 bytes apart
   * (subgroupMatrixLoad needs that) the 32 units start in only 8 banks: every store is a 4-way
   * bank conflict. `rotate` has each lane start at its own word (rank of its unit among those
   * sharing a bank, a constant table indexed by lane), so the 32 lanes of a store hit 32 banks.
   */
  readonly rotate?: boolean
}

/** Padding (f16 elements) of every workgroup-memory row unless the configuration says otherwise. */
const PAD = 8

const padOf = (c: TileConfig) => c.pad ?? PAD
const copyOf = (c: TileConfig) => c.copy ?? "lanes"
const bSlabOf = (c: TileConfig, weight: WeightLayout): WeightLayout => c.bSlab ?? weight

/** The name of a configuration; the fields added after the first device exploration appear only when not default. */
export const tileName = (c: TileConfig): string =>
  `t${c.BM}x${c.BN}x${c.BK}-sg${c.SGM}x${c.SGN}-s${c.stages}-g${c.group}` +
  (c.pad !== undefined && c.pad !== PAD ? `-p${c.pad}` : "") +
  (c.copy === "frag" ? "-cf" : "") +
  (c.bSlab !== undefined ? `-b${c.bSlab}` : "") +
  (c.direct !== undefined ? `-d${c.direct}` : "") +
  (c.producers ? `-w${c.producers}` : "") +
  (c.rotate ? "-r" : "")

/** The configuration a tileName names (undefined for anything else): lets a benchmark try combinations not in a list. */
export const parseTileName = (name: string): TileConfig | undefined => {
  const m = /^t(\d+)x(\d+)x(\d+)-sg(\d+)x(\d+)-s([12])-g(\d+)(-p\d+)?(-cf)?(-b(?:nk|kn))?(-d(?:ab|b))?(-w\d+)?(-r)?$/.exec(name)
  if (!m) return undefined
  const [, BM, BN, BK, SGM, SGN, stages, group, pad, cf, bSlab, direct, producers, rotate] = m
  return {
    BM: +BM!, BN: +BN!, BK: +BK!, SGM: +SGM!, SGN: +SGN!, stages: stages === "2" ? 2 : 1, group: +group!,
    ...(pad ? { pad: +pad.slice(2) } : {}),
    ...(cf ? { copy: "frag" as const } : {}),
    ...(bSlab ? { bSlab: bSlab.slice(2) as WeightLayout } : {}),
    ...(direct ? { direct: direct.slice(2) as "b" | "ab" } : {}),
    ...(producers ? { producers: +producers.slice(2) } : {}),
    ...(rotate ? { rotate: true } : {})
  }
}

export const tileThreads = (c: TileConfig): number => 32 * (c.SGM * c.SGN + (c.producers ?? 0))

/** The subgroups that stage the slabs: the producers, or else every subgroup. */
const loadersOf = (c: TileConfig) => c.producers || c.SGM * c.SGN

/** Workgroup memory (bytes) a configuration needs. */
export const tileSharedBytes = (c: TileConfig, weight: WeightLayout): number => {
  const pad = padOf(c)
  const a = c.direct === "ab" ? 0 : c.BM * (c.BK + pad)
  const b = c.direct !== undefined ? 0 : bSlabOf(c, weight) === "nk" ? c.BN * (c.BK + pad) : c.BK * (c.BN + pad)
  return c.stages * (a + b) * 2 + 64
}

/** Whether the configuration tiles a problem exactly (the plan pads nothing: M, N multiples of 128, K of 64). */
export const tileFits = (c: TileConfig, M: number, N: number, K: number): boolean => M % c.BM === 0 && N % c.BN === 0 && K % c.BK === 0

/** Whether the configuration is well formed for fragments of F. */
export const tileValid = (c: TileConfig, F: number): boolean => {
  const loaders = loadersOf(c)
  const WM = c.BM / c.SGM
  const WN = c.BN / c.SGN
  const frags = (rows: number) => (rows / F) * (c.BK / F)
  return Number.isInteger(WM / F) && Number.isInteger(WN / F) && c.BK % F === 0 && c.BK % 8 === 0 && tileThreads(c) <= 1024 &&
    ((c.BM * c.BK) / 8) % (32 * loaders) === 0 && ((c.BN * c.BK) / 8) % (32 * loaders) === 0 && padOf(c) % 8 === 0 &&
    (copyOf(c) === "lanes" || (frags(c.BM) % loaders === 0 && frags(c.BN) % loaders === 0)) &&
    (c.direct !== "ab" || c.stages === 1) && (!c.producers || (c.stages === 2 && c.direct === undefined))
}

/** Whether the configuration can run on weights of `format` (direct B fragments and fragment copies of B need f16 in memory). */
export const tileSupports = (c: TileConfig, format: WeightFormat): boolean => format === "f16" || c.direct === undefined

/**
 * The word each lane starts its 4 pair-stores at (see TileConfig.rotate) when lanes store units of
 * 8 f16 of rows `len` long into rows `stride` f16 apart, `threads` lanes staging: each lane's rank
 * among the lanes of its subgroup whose unit starts in the same bank, as two u32 words of 2-bit
 * entries (lanes 0–15, 16–31). Undefined where the pattern differs between subgroups or units (then
 * no rotation).
 */
export const rotationTable = (len: number, stride: number, threads: number, units: number): readonly [number, number] | undefined => {
  const table = (first: number) => {
    const seen = new Map<number, number>()
    return range(32).map((l) => {
      const idx = first + l
      const word = ((Math.floor(idx / (len / 8)) * stride + (idx % (len / 8)) * 8) / 2) % 32
      const rank = seen.get(word) ?? 0
      seen.set(word, rank + 1)
      return rank % 4
    })
  }
  const t0 = table(0)
  for (let u = 0; u < units; u++) for (let w = 0; w < threads / 32; w++) {
    if (table(u * threads + 32 * w).some((r, l) => r !== t0[l])) return undefined
  }
  const pack = (from: number) => range(16).reduce((acc, l) => (acc | (t0[from + l]! << (2 * l))) >>> 0, 0)
  return [pack(0), pack(16)]
}

/**
 * The WGSL of one configuration. Bindings as matmul.ts: A, B (or Bq + absmax at 4), C, params {M, N, K, _}.
 * `splitK`: workgroup z takes K from z·Ks to min(K, (z+1)·Ks) (Ks = params' fourth word, a
 * multiple of BK) and writes its partial product to C + z·M·N (split-k.ts sums the partials), so
 * that a product with few output tiles and a long K still fills the multiprocessors.
 */
/**
 * What the kernel does with C once its tile is computed: nothing more (C is the result), or
 * "swiglu": C holds the up projection U, and Y = silu(G) · U (G the gate projection, f32, the same
 * shape) is written as f16 pairs — the SwiGLU kernel's work done while U is still in L2, one pass
 * and one dispatch fewer a layer in the scoring forward. Bindings G and Y follow the others.
 * "pick": the lm_head's logits are never stored. Each subgroup reduces its block's rows as it
 * would have stored them (fragment by fragment through workgroup memory) to one partial a row and
 * block of WN columns: (max, sum of exponentials, argmax, the target's logit where the row's
 * target column lies in the block), as u32 words in C, [M, N / WN] of them; token-kernels.ts'
 * pick-merge folds them into the row's log-softmax state. The 5 GB of f32 logits a 16 × 512 batch
 * wrote and read again (Qwen3's 151,936 columns) go. Binding `targets` (u32 a row: vocabulary
 * ids) follows the others; params' fourth word is the shard's first column id.
 * "gate-up": B is the gate and up projections' weights interleaved F rows at a time (gate rows
 * 0…F−1, up rows 0…F−1, gate rows F…2F−1, …: qwen3-engine.ts interleaveGateUp), so a subgroup's
 * fragment columns 2c and 2c+1 hold the gate and the up projection of the same F columns; each
 * pair goes through workgroup memory and Y = silu(gate)·up is written as f16 pairs, [M, N/2], in
 * C's binding. Neither projection is stored: no f32 G and U written and read back by a SwiGLU pass
 * (the "swiglu" epilogue still read G from memory, and lost to the separate pass on the H100).
 */
export type MatmulEpilogue = "none" | "swiglu" | "pick" | "gate-up"

/** Bytes of workgroup memory the gate-up epilogue adds to a tile's: two fragments a subgroup. */
export const gateUpSharedBytes = (c: TileConfig, F: number): number => c.SGM * c.SGN * 2 * F * F * 4

/** Whether a tile can run the gate-up epilogue: every subgroup holds fragments, an even number of fragment columns each. */
export const gateUpValid = (c: TileConfig, F: number): boolean => (c.producers ?? 0) === 0 && (c.BN / c.SGN / F) % 2 === 0

/** The columns of one pick partial: a subgroup's block width (WN) for the tile configuration. */
export const pickBlockWidth = (c: TileConfig): number => c.BN / c.SGN

/** Words of workgroup memory a subgroup's pick epilogue uses: a fragment, or 4 words a lane to merge a row's lanes. */
const pickSlot = (F: number): number => Math.max(F * F, 128)

/** Bytes of workgroup memory the pick epilogue adds to a tile's (tileSharedBytes). */
export const pickSharedBytes = (c: TileConfig, F: number): number => c.SGM * c.SGN * pickSlot(F) * 4

export const tiledTensorCoreWgsl = (c: TileConfig, F: number, format: WeightFormat, accumulate: boolean, weight: WeightLayout, splitK = false, epilogue: MatmulEpilogue = "none"): string => {
  const { BM, BN, BK, SGM, SGN, stages } = c
  if (!tileSupports(c, format)) throw new Error(`tile ${tileName(c)} needs f16 weights`)
  const swiglu = epilogue === "swiglu"
  const pick = epilogue === "pick"
  if (epilogue !== "none" && (accumulate || splitK)) throw new Error(`the ${epilogue} epilogue needs C = A·op(B) over all of K (not accumulated, not split)`)
  if (pick && (c.producers ?? 0) > 0) throw new Error("the pick epilogue needs every subgroup to hold fragments (no producer subgroups)")
  const gateUp = epilogue === "gate-up"
  if (gateUp && !gateUpValid(c, F)) throw new Error(`the gate-up epilogue needs every subgroup to hold fragments, an even number of fragment columns each (tile ${tileName(c)})`)
  const threads = tileThreads(c)
  const sgs = SGM * SGN
  const P = c.producers ?? 0
  // who stages: the producer subgroups (their own lane and subgroup numbering), or every subgroup
  const loaders = loadersOf(c)
  const lThreads = 32 * loaders
  const li = P ? "plid" : "lid"
  const ls = P ? "psg" : "sg"
  const WM = BM / SGM
  const WN = BN / SGN
  const FM = WM / F
  const FN = WN / F
  const pad = padOf(c)
  const nf4 = format === "nf4"
  const bSlab = bSlabOf(c, weight)
  const stageA = c.direct !== "ab"
  const stageB = c.direct === undefined
  const fragA = copyOf(c) === "frag"
  const fragB = copyOf(c) === "frag" && !nf4
  // A and B read as f16 elements (fragments straight from storage) or as 16-byte words (lanes)
  const a16 = fragA || !stageA
  const b16 = !nf4 && (fragB || !stageB)
  const AST = BK + pad
  const BST = bSlab === "nk" ? BK + pad : BN + pad
  const SA = BM * AST // one stage of A
  const SB = bSlab === "nk" ? BN * BST : BK * BST
  const aUnits = (BM * BK) / 8 / lThreads
  const bUnits = (BN * BK) / 8 / lThreads
  const left = `subgroup_matrix_left<f16, ${F}, ${F}>`
  const right = `subgroup_matrix_right<f16, ${F}, ${F}>`

  // ---- lanes: unit u of a thread = 8 consecutive elements of a stored row; rows × len/8 units a slab
  const unitAt = (u: number, len: number) => `let idx${u} = ${li} + ${u * lThreads}u;
      let row${u} = idx${u} / ${len / 8}u;
      let col${u} = (idx${u} % ${len / 8}u) * 8u;`
  const aLoadLanes = range(aUnits).map((u) => `    {
      ${unitAt(u, BK)}
      ra${u} = A8[((m0 + row${u}) * p.K + k0n + col${u}) / 8u];
    }`)
  // rotated stores: pair j of a lane goes to word q = (j + rot) % 4 of its unit
  const rotA = c.rotate ? rotationTable(BK, AST, lThreads, aUnits) : undefined
  // body(x): x(a, b) is a·q + b, q the pair's word (a literal without rotation)
  type Lin = (a: number, b: number) => string
  const pairs = (rot: string | undefined, body: (x: Lin) => string) => range(4).map((w) => rot
    ? `      { let q = (${w}u + ${rot}) & 3u; ${body((a, b) => `(${a}u * q + ${b}u)`)} }`
    : `      { ${body((a, b) => `${a * w + b}u`)} }`).join("\n")
  const aStoreLanes = range(aUnits).map((u) => `    {
      ${unitAt(u, BK)}
      let o = st * ${SA}u + row${u} * ${AST}u + col${u};
${pairs(rotA && "rotA", (x) => `let h = bitcast<vec2<f16>>(ra${u}[${x(1, 0).replace(/u$/, "")}]); As[o + ${x(2, 0)}] = h.x; As[o + ${x(2, 1)}] = h.y;`)}
    }`)
  // B: stored rows are n ("nk", len BK) or k ("kn", len BN); element index of the unit in B's storage
  const bLen = weight === "nk" ? BK : BN
  const bElement = (u: number) => (weight === "nk" ? `(n0 + row${u}) * p.K + k0n + col${u}` : `(k0n + row${u}) * p.N + n0 + col${u}`)
  const bLoadLanes = range(bUnits).map((u) => `    {
      ${unitAt(u, bLen)}
      let e = ${bElement(u)};
${nf4 ? `      rb${u} = Bq[e / 8u];
      rs${u} = absmax[e / 64u];` : `      rb${u} = B8[e / 8u];`}
    }`)
  // element i of the unit: Bs at o + i (slab as stored) or at o + i·BST (slab transposed)
  const bAt = (u: number) => (bSlab === weight ? `let o = st * ${SB}u + row${u} * ${BST}u + col${u};` : `let o = st * ${SB}u + col${u} * ${BST}u + row${u};`)
  const bStep = bSlab === weight ? 1 : BST
  const rotB = c.rotate && bSlab === weight ? rotationTable(bLen, BST, lThreads, bUnits) : undefined
  const bStoreLanes = range(bUnits).map((u) => `    {
      ${unitAt(u, bLen)}
      ${bAt(u)}
${nf4
    ? pairs(rotB && "rotB", (x) => `Bs[o + ${x(2 * bStep, 0)}] = f16(NF4[(rb${u} >> ${x(8, 4)}) & 15u] * rs${u}); Bs[o + ${x(2 * bStep, bStep)}] = f16(NF4[(rb${u} >> ${x(8, 0)}) & 15u] * rs${u});`)
    : pairs(rotB && "rotB", (x) => `let h = bitcast<vec2<f16>>(rb${u}[${x(1, 0).replace(/u$/, "")}]); Bs[o + ${x(2 * bStep, 0)}] = h.x; Bs[o + ${x(2 * bStep, bStep)}] = h.y;`)}
    }`)

  // ---- frag: the slab's F×F blocks, block f = sg + i·subgroups of a row-major walk
  const aFrags = ((BM / F) * (BK / F)) / loaders
  const bFrags = ((BN / F) * (BK / F)) / loaders
  const blockAt = (i: number, cols: number) => `let f${i} = ${ls} + ${i * loaders}u;
      let fr${i} = f${i} / ${cols}u;
      let fc${i} = f${i} % ${cols}u;`
  const aLoadFrag = range(aFrags).map((i) => `    {
      ${blockAt(i, BK / F)}
      fa${i} = subgroupMatrixLoad<${left}>(&A16, (m0 + fr${i} * ${F}u) * p.K + k0n + fc${i} * ${F}u, false, p.K);
    }`)
  const aStoreFrag = range(aFrags).map((i) => `    {
      ${blockAt(i, BK / F)}
      subgroupMatrixStore(&As, st * ${SA}u + fr${i} * ${F * AST}u + fc${i} * ${F}u, fa${i}, false, ${AST}u);
    }`)
  // B blocks in storage order: rows n × BK/F blocks ("nk") or rows k × BN/F blocks ("kn")
  const bCols = weight === "nk" ? BK / F : BN / F
  const bLoadFrag = range(bFrags).map((i) => `    {
      ${blockAt(i, bCols)}
      fb${i} = subgroupMatrixLoad<${left}>(&B16, ${weight === "nk" ? `(n0 + fr${i} * ${F}u) * p.K + k0n + fc${i} * ${F}u, false, p.K` : `(k0n + fr${i} * ${F}u) * p.N + n0 + fc${i} * ${F}u, false, p.N`});
    }`)
  const bStoreFrag = range(bFrags).map((i) => `    {
      ${blockAt(i, bCols)}
      subgroupMatrixStore(&Bs, st * ${SB}u + ${bSlab === weight ? `fr${i} * ${F * BST}u + fc${i} * ${F}u, fb${i}, false` : `fc${i} * ${F * BST}u + fr${i} * ${F}u, fb${i}, true`}, ${BST}u);
    }`)

  const aLoad = !stageA ? "" : (fragA ? aLoadFrag : aLoadLanes).join("\n")
  const aStore = !stageA ? "" : (fragA ? aStoreFrag : aStoreLanes).join("\n")
  const bLoad = !stageB ? "" : (fragB ? bLoadFrag : bLoadLanes).join("\n")
  const bStore = !stageB ? "" : (fragB ? bStoreFrag : bStoreLanes).join("\n")
  const staged = stageA || stageB

  const products = range(BK / F).map((s) => {
    const kk = s * F
    const bFrag = (j: number) => (!stageB
      ? weight === "nk"
        ? `subgroupMatrixLoad<${right}>(&B16, (n0 + sn * ${WN}u + ${j * F}u) * p.K + k0 + ${kk}u, true, p.K)`
        : `subgroupMatrixLoad<${right}>(&B16, (k0 + ${kk}u) * p.N + n0 + sn * ${WN}u + ${j * F}u, false, p.N)`
      : bSlab === "nk"
        ? `subgroupMatrixLoad<${right}>(&Bs, bBase + ${j * F * BST + kk}u, true, ${BST}u)`
        : `subgroupMatrixLoad<${right}>(&Bs, bBase + ${kk * BST + j * F}u, false, ${BST}u)`)
    const aFrag = (i: number) => (!stageA
      ? `subgroupMatrixLoad<${left}>(&A16, (m0 + sm * ${WM}u + ${i * F}u) * p.K + k0 + ${kk}u, false, p.K)`
      : `subgroupMatrixLoad<${left}>(&As, aBase + ${i * F * AST + kk}u, false, ${AST}u)`)
    return `    {
${range(FN).map((j) => `      let b${j} = ${bFrag(j)};`).join("\n")}
${range(FM).map((i) => `      {
        let a = ${aFrag(i)};
${range(FN).map((j) => `        acc_${i}_${j} = subgroupMatrixMultiplyAccumulate(a, b${j}, acc_${i}_${j});`).join("\n")}
      }`).join("\n")}
    }`
  }).join("\n")

  const bases = (stage: string) => [
    stageA ? `    let aBase = ${stage} * ${SA}u + sm * ${WM * AST}u;` : "",
    stageB ? `    let bBase = ${stage} * ${SB}u + ${bSlab === "nk" ? `sn * ${WN * BST}u` : `sn * ${WN}u`};` : ""
  ].filter((l) => l !== "").join("\n")
  const cAt = (i: number, j: number) => `cBase + ${i * F}u * p.N + ${j * F}u`

  // the K range of this workgroup: all of K, or its split's
  const kFrom = splitK ? "kBegin" : "0u"
  const kTo = splitK ? "kEnd" : "p.K"
  const body = P
    ? `  if (sg >= ${sgs}u) {
    {
      let k0n = ${kFrom};
      let st = 0u;
${aLoad}
${bLoad}
${aStore}
${bStore}
    }
    if (${kFrom} + ${BK}u < ${kTo}) {
      let k0n = ${kFrom} + ${BK}u;
${aLoad}
${bLoad}
    }
  }
  workgroupBarrier();
  for (var k0 = ${kFrom}; k0 < ${kTo}; k0 += ${BK}u) {
    let cur = (${splitK ? "(k0 - kBegin)" : "k0"} / ${BK}u) & 1u;
    if (sg >= ${sgs}u) {
      // slab k+1 (in registers) into the other half, then slab k+2 from global memory
      if (k0 + ${BK}u < ${kTo}) {
        let st = 1u - cur;
${aStore}
${bStore}
        if (k0 + ${2 * BK}u < ${kTo}) {
          let k0n = k0 + ${2 * BK}u;
${aLoad}
${bLoad}
        }
      }
    } else {
${bases("cur")}
${products}
    }
    workgroupBarrier();
  }`
    : !staged
    ? `  for (var k0 = ${kFrom}; k0 < ${kTo}; k0 += ${BK}u) {
${products}
  }`
    : stages === 1
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

  const aBinding = a16 ? "@group(0) @binding(0) var<storage, read> A16: array<f16>;" : "@group(0) @binding(0) var<storage, read> A8: array<vec4<u32>>;"
  const bBinding = nf4
    ? `@group(0) @binding(1) var<storage, read> Bq: array<u32>;
@group(0) @binding(4) var<storage, read> absmax: array<f32>;
const NF4_CODE = array<f32, 16>(${[...NF4_CODE].map((v) => v.toFixed(10)).join(", ")});
var<workgroup> NF4: array<f32, 16>;`
    : b16 ? "@group(0) @binding(1) var<storage, read> B16: array<f16>;" : "@group(0) @binding(1) var<storage, read> B8: array<vec4<u32>>;"
  const regs = [
    ...(!stageA ? [] : fragA ? range(aFrags).map((i) => `  var fa${i}: ${left};`) : range(aUnits).map((u) => `  var ra${u}: vec4<u32>;`)),
    ...(!stageB ? [] : fragB ? range(bFrags).map((i) => `  var fb${i}: ${left};`) : range(bUnits).map((u) => (nf4 ? `  var rb${u}: u32;\n  var rs${u}: f32;` : `  var rb${u}: vec4<u32>;`)))
  ]

  return `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);
struct P { M: u32, N: u32, K: u32, ${splitK ? "Ks" : pick ? "col0" : "_pad"}: u32 }
${aBinding}
${bBinding}
${pick ? "@group(0) @binding(2) var<storage, read_write> partials: array<vec4<u32>>;" : gateUp ? "@group(0) @binding(2) var<storage, read_write> Y: array<u32>; // silu(gate)·up as half-float pairs, [M, N/2]" : "@group(0) @binding(2) var<storage, read_write> C: array<f32>;"}
@group(0) @binding(3) var<uniform> p: P;${pick ? `
@group(0) @binding(${nf4 ? 5 : 4}) var<storage, read> targets: array<u32>;
var<workgroup> Es: array<f32, ${sgs * pickSlot(F)}>;` : ""}${gateUp ? `
var<workgroup> Es: array<f32, ${sgs * 2 * F * F}>;` : ""}${swiglu ? `
@group(0) @binding(${nf4 ? 5 : 4}) var<storage, read> G: array<f32>;
@group(0) @binding(${nf4 ? 6 : 5}) var<storage, read_write> Y: array<u32>; // half-float pairs` : ""}
${stageA ? `var<workgroup> As: array<f16, ${stages * SA}>;` : ""}
${stageB ? `var<workgroup> Bs: array<f16, ${stages * SB}>;` : ""}

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
  let sn = sg % ${SGN}u;${P ? `
  let psg = sg - ${sgs}u; // a producer's index and lane among the producers
  let plid = lid - ${32 * sgs}u;` : ""}${([["rotA", rotA], ["rotB", rotB]] as const).filter(([, t]) => t !== undefined).map(([n, t]) => `
  let ${n} = (select(${t![0]}u, ${t![1]}u, (${li} & 31u) >= 16u) >> ((${li} & 15u) * 2u)) & 3u;`).join("")}
  let cBase = ${splitK ? "wg.z * p.M * p.N + " : ""}(m0 + sm * ${WM}u) * p.N + n0 + sn * ${WN}u;
${nf4 ? "  if (lid < 16u) { NF4[lid] = NF4_CODE[lid]; }\n  workgroupBarrier();\n" : ""}${regs.join("\n")}
${range(FM).flatMap((i) => range(FN).map((j) => accumulate && !P
    ? `  var acc_${i}_${j} = subgroupMatrixLoad<subgroup_matrix_result<f32, ${F}, ${F}>>(&C, ${cAt(i, j)}, false, p.N);`
    : `  var acc_${i}_${j} = subgroup_matrix_result<f32, ${F}, ${F}>();`)).join("\n")}
${P && accumulate ? `  if (sg < ${sgs}u) {
${range(FM).flatMap((i) => range(FN).map((j) => `    acc_${i}_${j} = subgroupMatrixLoad<subgroup_matrix_result<f32, ${F}, ${F}>>(&C, ${cAt(i, j)}, false, p.N);`)).join("\n")}
  }` : ""}
${body}
${pick ? pickEpilogue(F, FM, FN, WM, WN) : gateUp ? gateUpEpilogue(F, FM, FN, WM, WN) : `${P ? `  if (sg < ${sgs}u) {\n` : ""}${range(FM).flatMap((i) => range(FN).map((j) => `  subgroupMatrixStore(&C, ${cAt(i, j)}, acc_${i}_${j}, false, p.N);`)).join("\n")}${P ? "\n  }" : ""}`}${swiglu ? `
  // SwiGLU over the block these 32 lanes computed: U back from C (just written: L2), G from its buffer, Y as half-float
  // pairs (32 lanes a row of the block). storageBarrier: the fragments' stores visible to the lanes.
  storageBarrier();${P ? `
  if (sg < ${sgs}u) {` : ""}
  for (var e = lid % 32u; e < ${(WM * WN) / 2}u; e += 32u) {
    let at = cBase + (e / ${WN / 2}u) * p.N + (e % ${WN / 2}u) * 2u;
    let g = vec2<f32>(G[at], G[at + 1u]);
    Y[at / 2u] = pack2x16float(g / (1.0 + exp(-g)) * vec2<f32>(C[at], C[at + 1u]));
  }${P ? "\n  }" : ""}` : ""}
}
`
}

/**
 * The pick epilogue's WGSL (see MatmulEpilogue): each fragment of the subgroup's block goes through
 * its F×F slot of workgroup memory, where the 32 lanes read it back as rows: 32/F lanes a row, each
 * an ascending run of F²/32 columns (so a lane's argmax keeps the lowest column on a tie). A lane
 * keeps one running (max, sum, argmax) a fragment row i across the FN fragments of its block row;
 * at the end the lanes of a row merge through the slot, lowest columns first, and the first of them
 * writes the row's partial. The target's logit is taken by the lane whose columns hold it.
 */
const pickEpilogue = (F: number, FM: number, FN: number, WM: number, WN: number): string => {
  const lanesPerRow = 32 / F
  const run = F / lanesPerRow
  return `  // the pick: this block of 32 lanes reduced a row to (max, sum of exponentials, argmax, target logit)
  let lane = lid % 32u;
  let pr = lane % ${F}u; // the lane's row in a fragment
  let pq = lane / ${F}u; // which run of ${run} columns of it
  let slot = sg * ${pickSlot(F)}u;
  let nb = n0 + sn * ${WN}u; // the block's first column (of this shard)
  let blocks = p.N / ${WN}u;
${range(FM).map((i) => `  let row${i} = m0 + sm * ${WM}u + ${i * F}u + pr;
  let tc${i} = targets[row${i}] - p.col0; // the target's column in this shard (wraps past it where below)
  var pm${i} = -3.0e38;
  var ps${i} = 0.0;
  var pa${i} = 0u;
  var pt${i} = 0.0;`).join("\n")}
${range(FM).flatMap((i) => range(FN).map((j) => `  subgroupMatrixStore(&Es, slot, acc_${i}_${j}, false, ${F}u);
  workgroupBarrier();
  for (var c = 0u; c < ${run}u; c++) {
    let col = pq * ${run}u + c;
    let v = Es[slot + pr * ${F}u + col];
    let at = nb + ${j * F}u + col;
    if (v > pm${i}) { ps${i} = ps${i} * exp(pm${i} - v); pm${i} = v; pa${i} = at; }
    ps${i} += exp(v - pm${i});
    if (at == tc${i}) { pt${i} = v; }
  }
  workgroupBarrier();`)).join("\n")}
${range(FM).map((i) => `  // row ${i}: the lanes of a row merged through the slot (4 words a lane), lowest columns first
  Es[slot + lane * 4u] = pm${i};
  Es[slot + lane * 4u + 1u] = ps${i};
  Es[slot + lane * 4u + 2u] = bitcast<f32>(pa${i});
  Es[slot + lane * 4u + 3u] = pt${i};
  workgroupBarrier();
  if (pq == 0u) {
    var m = pm${i};
    var s = ps${i};
    var a = pa${i};
    var t = pt${i};
    for (var q = 1u; q < ${lanesPerRow}u; q++) {
      let o = slot + (q * ${F}u + pr) * 4u;
      let m2 = Es[o];
      let mm = max(m, m2);
      s = s * exp(m - mm) + Es[o + 1u] * exp(m2 - mm);
      if (m2 > m) { a = bitcast<u32>(Es[o + 2u]); }
      m = mm;
      t = t + Es[o + 3u];
    }
    partials[row${i} * blocks + nb / ${WN}u] = vec4<u32>(bitcast<u32>(m), bitcast<u32>(s), a, bitcast<u32>(t));
  }
  workgroupBarrier();`).join("\n")}`
}

/**
 * The gate-up epilogue's WGSL (see MatmulEpilogue): for each fragment row and pair of fragment
 * columns (gate, up), both fragments go to the subgroup's two F×F slots of workgroup memory, where
 * the 32 lanes read them back two columns at a time and write silu(gate)·up as one f16 pair. The
 * block's F·FN/2 output columns start at half its first merged column.
 */
const gateUpEpilogue = (F: number, FM: number, FN: number, WM: number, WN: number): string => `  // gate-up: Y = silu(gate)·up, each pair of fragment columns through this block's two slots
  let lane = lid % 32u;
  let slot = sg * ${2 * F * F}u;
  let yN = p.N / 2u;
  let yCol = (n0 + sn * ${WN}u) / 2u;
${range(FM).flatMap((i) => range(FN / 2).map((c) => `  subgroupMatrixStore(&Es, slot, acc_${i}_${2 * c}, false, ${F}u);
  subgroupMatrixStore(&Es, slot + ${F * F}u, acc_${i}_${2 * c + 1}, false, ${F}u);
  workgroupBarrier();
  for (var e = lane; e < ${(F * F) / 2}u; e += 32u) {
    let r = e / ${F / 2}u;
    let col = (e % ${F / 2}u) * 2u;
    let g = vec2<f32>(Es[slot + r * ${F}u + col], Es[slot + r * ${F}u + col + 1u]);
    let u = vec2<f32>(Es[slot + ${F * F}u + r * ${F}u + col], Es[slot + ${F * F}u + r * ${F}u + col + 1u]);
    Y[((m0 + sm * ${WM}u + ${i * F}u + r) * yN + yCol + ${c * F}u + col) / 2u] = pack2x16float(g / (1.0 + exp(-g)) * u);
  }
  workgroupBarrier();`)).join("\n")}`

const base: TileConfig = { BM: 128, BN: 128, BK: 32, SGM: 2, SGN: 2, stages: 1, group: 8 }

/**
 * Configurations the device exploration (bench/gpu/matmul-tune.ts) tries. Session 6's first round
 * (raw output in bench/gpu/results/2026-12-06-h100-session6/gpu-matmul/round1) swept 43 forms —
 * fragment copies, B's slab transposed, padding 0/16, fragments straight from storage, producer
 * subgroups, 8 subgroups, slab depths 16/64, walk groups 1–16, other tile shapes — and none beat
 * the 128×128×32 one-stage tile (193.5 TFLOP/s at 8192³; every fragment-copy, direct and
 * producer form 30–97). Padding told what bounds it: workgroup-memory bank conflicts (pad 0:
 * 137, 16: 182, 8: 194). This list is the second round's: the rotated stores (`rotate`), which
 * take the 4-way conflicts out of the staging stores, on the tiles that came closest — all
 * correct on the card and all slower (137–141 against 197.5; BENCHMARKS.md).
 */
export const TILE_CONFIGS: ReadonlyArray<TileConfig> = [
  base,
  { ...base, rotate: true },
  { ...base, group: 16, rotate: true },
  { ...base, group: 4, rotate: true },
  { ...base, BK: 64, rotate: true },
  { ...base, stages: 2, rotate: true },
  { ...base, stages: 2, producers: 4, rotate: true },
  { BM: 128, BN: 256, BK: 32, SGM: 2, SGN: 4, stages: 1, group: 8, rotate: true },
  { BM: 256, BN: 128, BK: 32, SGM: 4, SGN: 2, stages: 1, group: 8, rotate: true },
  { BM: 128, BN: 64, BK: 32, SGM: 2, SGN: 2, stages: 1, group: 8, rotate: true },
  { BM: 64, BN: 128, BK: 32, SGM: 1, SGN: 2, stages: 1, group: 8, rotate: true }
]
