import { pipeline, type Binding, type Dispatch } from "./buffers.ts"
import type { Gpu } from "./device.ts"
import { range } from "./codegen.ts"

/**
 * Causal attention forward with GQA and a KV cache, one pass (online softmax) on the tensor cores,
 * several subgroups a workgroup sharing each K/V tile through workgroup memory. The same contract
 * as attention-tc.ts: Q [B,S,H,D], K/V [B,T,KV,D], O [B,S,H,D] f16; queries at positions T−S … T−1;
 * query head h reads kv head h / (H / KV); optionally LSE [B,S,H] (natural log) for the backward.
 *
 * A workgroup takes `queries` queries of `heads` query heads that share one kv head; each of its
 * subgroups (32 lanes) owns 16 query rows of one head and keeps their Q fragments in registers and
 * their O in result fragments. Per block of `keyBlock` keys, the whole workgroup loads the K and V
 * tile once (16-byte loads, zeros past T) into workgroup memory; each subgroup then computes its
 * scores S = Q·Kᵀ, two lanes a row take the block's row max and P = 2^(c·S − m) (c = scale·log₂e:
 * exp2 with the scale folded in), and O += P·V. Key fragments past a subgroup's last visible key are
 * skipped (subgroup-uniform branches); workgroups start with the longest rows of every head (the
 * grid's x walks heads, y query blocks from the last), so that the short ones fill the tail.
 *
 * The running max m of a row is raised only when some row of the workgroup sees a block max past
 * m + SLACK (log₂ units; P then stays ≤ 2^11, safe in f16): a workgroup-uniform decision, after
 * which every O fragment makes one round trip through workgroup memory to be scaled by 2^(m_old −
 * m_new) row by row (result fragments are opaque). Causal rows meet their large scores early, so
 * this is rare after the first block, where O is still zero and no round trip is made. `reload`
 * says how a scaled fragment gets back into the accumulator: "result" loads it as a result matrix;
 * "identity" (only loads of left/right matrices, the forms every other kernel here uses) splits it
 * into f16 hi + lo and accumulates I·hi + I·lo (error ~2⁻²² relative).
 *
 * Subgroup-matrix offsets depend on the subgroup index, uniform across the subgroup (all the
 * hardware needs) but not the workgroup: `diagnostic(off, chromium.subgroup_matrix_uniformity)`, as
 * in matmul-tiles.ts. Every barrier sits in workgroup-uniform control flow (the key loop's bounds
 * depend on the workgroup only). Row max and sums of a row's two lanes meet through workgroup
 * memory, not subgroup shuffles.
 *
 * Rounding: Q, K, V, P and O are f16; scores, max, sums and the accumulation are f32.
 *
 * STATUS: right with the fragments emulated (SwiftShader), wrong on the H100 in session 6 — every
 * variant, like session 5's one-pass form. Session 7's probe (bench/gpu/attention-probe.ts) traced
 * session 5's form to the order of its workgroup arrays (the fragments' and the lanes' accesses
 * disagreed about where they lie; the reverse order was right on the card); the arrays here are now
 * declared in that pattern, and on the H100 (session 7, round 2) attention-flash.test.ts passed 18/18
 * and engine-scorer 6/6 under FLEUVE_ATTENTION_FORWARD=flash. In session 8 the trainer, train-engine-gpu
 * and engine-generate tests passed under it on the card too, and it became the default through
 * `auto` (attention-tc.ts: defaultAttentionForm), which still checks it against the two-pass kernel
 * on each device before using it.
 */
export interface FlashAttentionVariant {
  readonly form: "flash"
  /** queries of one head a workgroup (16 per subgroup) */
  readonly queries: 16 | 32 | 64
  /** query heads of one kv head a workgroup (must divide H / KV) */
  readonly heads: 1 | 2
  readonly keyBlock: 16 | 32 | 64
  readonly reload: "result" | "identity"
  /** "lazy" (default): O rescaled only when a row's max rises past the slack; "always": every block, no branch (a check on the branch) */
  readonly rescale?: "lazy" | "always"
  /** the next K/V tile's global loads issued into registers before this block's products (hides their latency) */
  readonly prefetch?: boolean
  /** the two lanes of a row meet through subgroupShuffleXor instead of workgroup memory and a barrier */
  readonly shuffle?: boolean
  /**
   * "lanes": O is held by the lanes (f32 registers), not in result fragments: each block's P·V is a
   * fresh product staged through the score tile and added to the lanes' O after scaling it by
   * 2^(m_old − m_new) (every block, no branch). No fragment lives across blocks.
   */
  readonly accumulate?: "fragments" | "lanes"
  /**
   * "words" (`-n`): the K/V tiles staged one 4-byte word a lane (a subgroup's f16 stores then cover
   * 128 contiguous bytes, one wavefront each) instead of 16-byte units a lane (32 lanes' units start
   * in 8 banks: each of the 8 f16 stores a unit is a 4-way conflict). 4× the global load instructions.
   */
  readonly stage?: "units" | "words"
  /** (`-u`) the lanes' softmax loops unrolled: each lane reads its half row of scores once, into registers, for the max and for P */
  readonly unroll?: boolean
  /**
   * (`-uo`) the lanes' loops over O unrolled: the rescale's pass through the score tile and the
   * output's (each a loop with a runtime start, `i = lane`, that the compiler left rolled; `-u`'s
   * 1.5× came from loops of that kind)
   */
  readonly unrollOutput?: boolean
  /**
   * (`-uk`) the K/V staging unrolled: all of a lane's global loads of a tile issued before its
   * stores (one load latency a tile instead of one a 16-byte unit), nothing held across the block
   * (unlike the prefetch). 16-byte units only.
   */
  readonly unrollStaging?: boolean
  /** (`-il`) the block's score fragments computed together: one branch, each Q fragment used for every key fragment in turn (independent products) */
  readonly interleave?: boolean
  /** (`-qs`) Q fragments loaded from workgroup memory where used instead of held in registers (32 fewer registers a lane at D 128) */
  readonly qShared?: boolean
  /**
   * "subgroup" (`-ws`): only the two barriers the shared K/V tile needs a block (after staging, before
   * the next tile); where a subgroup meets only its own rows (its scores, P, row max, rescale
   * factors, O's round trip) it relies on its 32 lanes running in step (warp-synchronous, as NVIDIA
   * runs a converged warp) instead of a workgroup barrier, and its rescale decision is its own.
   * WGSL does not promise this: only the card can say whether it holds (the emulated check keeps
   * the barriers, SwiftShader's lanes do not run in step).
   */
  readonly sync?: "workgroup" | "subgroup"
  /**
   * (`-db`, with `sync: "subgroup"` only) two K/V tiles in workgroup memory: each block stages the
   * next tile into the other while computing on this one, so one workgroup barrier a block.
   */
  readonly doubleBuffer?: boolean
}

export const DEFAULT_FLASH_ATTENTION: FlashAttentionVariant = { form: "flash", queries: 32, heads: 2, keyBlock: 32, reload: "identity" }

/**
 * q32-h2-k32-ri-pf-u-il-ws: session 8's fastest variant (round 1, H200, the attention alone at
 * 16 × 512: 1.61 ms in both rounds against 3.41–3.55 for the default in the same call), right on
 * that card against the CPU reference (attention-flash.test.ts). Opt-in
 * (`FLEUVE_ATTENTION_FORWARD=flash:q32-h2-k32-ri-pf-u-il-ws`), not the default and not among
 * `auto`'s candidates: it never ran the scorer, trainer or decoder tests on a card, it relies on a
 * subgroup's lanes running in step (`-ws`), and on that H200 the two-pass kernel (1.255 ms) beat
 * every flash variant while on the H100 the default flash kernel beat the two-pass one.
 */
export const UNROLLED_FLASH_ATTENTION: FlashAttentionVariant = { form: "flash", queries: 32, heads: 2, keyBlock: 32, reload: "identity", prefetch: true, unroll: true, interleave: true, sync: "subgroup" }

/** log₂ units a block's row max may exceed the running max before O is rescaled (P ≤ 2^11). */
const SLACK = 11
const F = 16
const LOG2E = 1.4426950408889634
const LN2 = 0.6931471805599453

export const flashAttentionName = (v: FlashAttentionVariant): string =>
  `attention-flash-q${v.queries}-h${v.heads}-k${v.keyBlock}-${v.reload === "result" ? "rr" : "ri"}${v.rescale === "always" ? "-always" : ""}${v.prefetch ? "-pf" : ""}${v.shuffle ? "-sh" : ""}${v.accumulate === "lanes" ? "-la" : ""}${v.stage === "words" ? "-n" : ""}${v.unroll ? "-u" : ""}${v.unrollOutput ? "-uo" : ""}${v.unrollStaging ? "-uk" : ""}${v.interleave ? "-il" : ""}${v.qShared ? "-qs" : ""}${v.doubleBuffer ? "-db" : ""}${v.sync === "subgroup" ? "-ws" : ""}`

/** The variant a name (flashAttentionName without its "attention-flash-" prefix, e.g. q32-h2-k32-ri-la) stands for, or undefined. */
export const parseFlashAttentionName = (name: string): FlashAttentionVariant | undefined => {
  const m = /^(?:attention-flash-)?q(16|32|64)-h(1|2)-k(16|32|64)-(rr|ri)(-always)?(-pf)?(-sh)?(-la)?(-n)?(-u)?(-uo)?(-uk)?(-il)?(-qs)?(-db)?(-ws)?$/.exec(name)
  if (!m) return undefined
  return {
    form: "flash", queries: Number(m[1]) as 16 | 32 | 64, heads: Number(m[2]) as 1 | 2, keyBlock: Number(m[3]) as 16 | 32 | 64, reload: m[4] === "rr" ? "result" : "identity",
    ...(m[5] ? { rescale: "always" as const } : {}), ...(m[6] ? { prefetch: true } : {}), ...(m[7] ? { shuffle: true } : {}), ...(m[8] ? { accumulate: "lanes" as const } : {}),
    ...(m[9] ? { stage: "words" as const } : {}), ...(m[10] ? { unroll: true } : {}), ...(m[11] ? { unrollOutput: true } : {}), ...(m[12] ? { unrollStaging: true } : {}),
    ...(m[13] ? { interleave: true } : {}), ...(m[14] ? { qShared: true } : {}), ...(m[15] ? { doubleBuffer: true } : {}), ...(m[16] ? { sync: "subgroup" as const } : {})
  }
}

/**
 * The variant with one query head a workgroup (where a kv head has an odd number of them): the
 * same options, less the prefetch where its units no longer fit (half the lanes, the same tile).
 */
export const flashAttentionOneHead = (v: FlashAttentionVariant, D = 128): FlashAttentionVariant => {
  const one = { ...v, heads: 1 as const }
  if (flashAttentionValid(one, D) || !one.prefetch) return one
  const { prefetch: _, ...rest } = one
  return rest
}

/** Subgroups a workgroup. */
const subgroupsOf = (v: FlashAttentionVariant): number => (v.queries / F) * v.heads

/**
 * Whether the variant is well formed: the workgroup's Q rows are staged once through the K and V
 * tiles (2 × keyBlock rows) unless they have their own (`qShared`), so at most 2 × keyBlock query
 * rows a workgroup; the prefetch takes 16-byte units (not `stage: "words"`); the lanes' O
 * (`accumulate: "lanes"`) keeps its workgroup barriers (not `sync: "subgroup"`); two K/V tiles
 * (`doubleBuffer`) only with subgroups in step and no prefetch; the unrolled staging (`unrollStaging`)
 * only of 16-byte units, without the prefetch, a whole number of units a lane.
 */
export const flashAttentionValid = (v: FlashAttentionVariant, D = 128): boolean =>
  (v.qShared || subgroupsOf(v) * F <= 2 * v.keyBlock) && (!v.prefetch || Number.isInteger(prefetchUnits(v, D)) && prefetchUnits(v, D) <= 4) &&
  !(v.prefetch && v.stage === "words") && !(v.accumulate === "lanes" && v.sync === "subgroup") && !(v.doubleBuffer && (v.sync !== "subgroup" || v.prefetch)) &&
  !(v.unrollStaging && (v.prefetch || v.stage === "words" || !Number.isInteger(prefetchUnits(v, D))))

/** 16-byte units of K (and of V) a thread loads a tile. */
const prefetchUnits = (v: FlashAttentionVariant, D: number): number => (v.keyBlock * D) / 8 / (32 * subgroupsOf(v))

/** Workgroup memory (bytes) a variant needs at head_dim D. */
export const flashAttentionSharedBytes = (v: FlashAttentionVariant, D: number): number => {
  const NW = subgroupsOf(v)
  const kv = (v.doubleBuffer ? 2 : 1) * 2 * v.keyBlock * (D + 8) * 2
  const ss = NW * F * (v.keyBlock + 4) * 4
  const ps = NW * F * (v.keyBlock + 8) * 2
  const hs = v.reload === "identity" ? F * F * 2 + (hiLoInTiles(v, D) ? 0 : NW * 2 * F * F * passFragments(v, D) * 2) : 0
  const qs = v.qShared ? NW * F * (D + 8) * 2 : 0
  return kv + ss + ps + hs + qs + NW * 32 * 4 + NW * F * 4 + 4 + (v.sync === "subgroup" ? NW * 4 : 0)
}

/** O fragments a pass through the score tile (rescale and output): up to a key block's width, a divisor of D / 16. */
const passFragments = (v: FlashAttentionVariant, D: number): number => {
  let fp = Math.min(v.keyBlock / F, D / F)
  while ((D / F) % fp !== 0) fp--
  return fp
}

/**
 * Whether the identity reload's f16 hi/lo fragments (2 × passFragments a subgroup) fit in the K
 * tile, free while O is rescaled — only while every subgroup rescales together (not `sync: "subgroup"`,
 * where others may still read the K tile).
 */
const hiLoInTiles = (v: FlashAttentionVariant, D: number): boolean => v.sync !== "subgroup" && subgroupsOf(v) * 2 * F * F * passFragments(v, D) <= v.keyBlock * (D + 8)

/**
 * `barriers`: keep every workgroup barrier of a `sync: "subgroup"` variant (and rescale the whole
 * workgroup together): the form its emulated check runs, since SwiftShader's lanes do not run in step.
 */
/** WGSL: the running max m raised to the block's max mb, alpha its factor 2^(m_old − m_new), the row sum l scaled by it (`declare` "let " where alpha is new here). */
const raiseMax = (indent: string, declare: "let " | ""): string =>
  [`let mn = max(m, mb);`, `${declare}alpha = exp2(m - mn);`, `m = mn;`, `l = l * alpha;`].map((line) => indent + line).join("\n")

export const flashAttentionWgsl = (D: number, v: FlashAttentionVariant, withLse = false, options: { readonly barriers?: boolean } = {}): string => {
  if (D % F !== 0) throw new Error(`flash attention: head_dim ${D} must be a multiple of ${F}`)
  if (!flashAttentionValid(v, D)) throw new Error(`flash attention ${flashAttentionName(v)}: ${subgroupsOf(v) * F} query rows a workgroup exceed twice the key block, or the prefetch takes more than 4 units a thread`)
  const SQ = v.queries / F // subgroups a head
  const NW = SQ * v.heads // subgroups a workgroup
  const TH = 32 * NW
  const KB = v.keyBlock
  const dc = D / F
  const kf = KB / F
  const KST = D + 8 // f16 row stride of the K, V (and Q) tiles: 16-byte aligned rows, off one bank
  const VT = KB * KST // where the V tile starts in KVs (the K tile at 0; the Q rows span both at the start)
  const SST = KB + 4 // f32 row stride of the score tile
  const PST = KB + 8 // f16 row stride of the probability tile
  const FP = passFragments(v, D)
  const units = D / 8 // 16-byte units a row
  const identity = v.reload === "identity"
  const lanes = v.accumulate === "lanes"
  const always = v.rescale === "always" || lanes
  const PU = v.prefetch ? prefetchUnits(v, D) : 0
  const ws = v.sync === "subgroup"
  const inStep = ws && !options.barriers // the subgroup-only barriers dropped
  // a point where a subgroup reads what its own lanes or fragments wrote (its rows only)
  const sync = (what: string) => inStep ? `// ${what}: this subgroup's own rows; its lanes run in step (no barrier)` : "workgroupBarrier();"
  const QT = v.qShared ? "Qs" : "KVs" // where the Q rows are staged
  // a loop over n items, 32 lanes a step (item i = lane + 32·step): rolled, or unrolled with `-uo`
  const laneLoop = (n: number, indent: string, body: (i: string) => string) => v.unrollOutput
    ? range(n / 32).map((k) => `${indent}{\n${indent}  let i${k} = lane + ${k * 32}u;\n${indent}  ${body(`i${k}`)}\n${indent}}`).join("\n")
    : `${indent}for (var i = lane; i < ${n}u; i += 32u) {\n${indent}  ${body("i")}\n${indent}}`
  const db = v.doubleBuffer === true
  const qBase = db && !v.qShared ? 2 * KB * KST : 0 // Q's rows in the second tile (two tiles) while the first is staged
  const kvAt = (n: number) => db ? `cur + ${n}u` : `${n}u` // a K/V fragment's offset in this block's tile
  // (two tiles) the K and V rows from key `from` into the tile at `base`, zeros past T
  const stageAt = (from: string, base: string) => v.unrollStaging ? stageUnrolled(from, base) : v.stage === "words" ? `    for (var u = lid; u < ${KB * D / 2}u; u += ${TH}u) {
      let r = u / ${D / 2}u;
      let c = (u % ${D / 2}u) * 2u;
      var xk = 0u;
      var xv = 0u;
      if (${from} + r < p.T) {
        let at = (((b * p.T + ${from} + r) * p.KV + kvh) * ${D}u + c) / 2u;
        xk = K8[at / 4u][at % 4u];
        xv = V8[at / 4u][at % 4u];
      }
      let y = ${base} + r * ${KST}u + c;
      { let h = bitcast<vec2<f16>>(xk); KVs[y] = h.x; KVs[y + 1u] = h.y; }
      { let h = bitcast<vec2<f16>>(xv); KVs[y + ${VT}u] = h.x; KVs[y + ${VT + 1}u] = h.y; }
    }` : `    for (var u = lid; u < ${KB * units}u; u += ${TH}u) {
      let r = u / ${units}u;
      let c = (u % ${units}u) * 8u;
      var xk = vec4<u32>();
      var xv = vec4<u32>();
      if (${from} + r < p.T) {
        let at = (((b * p.T + ${from} + r) * p.KV + kvh) * ${D}u + c) / 8u;
        xk = K8[at];
        xv = V8[at];
      }
      let y = ${base} + r * ${KST}u + c;
      ${store8("KVs", "y", "xk")}
      ${store8("KVs", `y + ${VT}u`, "xv")}
    }`
  // (-uk) the K and V rows from key `from` into the tile at `base`: every load of this lane, then every store
  const SU = v.unrollStaging ? prefetchUnits(v, D) : 0
  const stageUnrolled = (from: string, base: string) => `    {
${range(SU).map((i) => `    var xk${i} = vec4<u32>();
    var xv${i} = vec4<u32>();
    {
      let r = (lid + ${i * TH}u) / ${units}u;
      if (${from} + r < p.T) {
        let at = (((b * p.T + ${from} + r) * p.KV + kvh) * ${D}u + ((lid + ${i * TH}u) % ${units}u) * 8u) / 8u;
        xk${i} = K8[at];
        xv${i} = V8[at];
      }
    }`).join("\n")}
${range(SU).map((i) => `    {
      let y = ${base} + ((lid + ${i * TH}u) / ${units}u) * ${KST}u + ((lid + ${i * TH}u) % ${units}u) * 8u;
      ${store8("KVs", "y", `xk${i}`)}
      ${store8("KVs", `y + ${VT}u`, `xv${i}`)}
    }`).join("\n")}
    }`
  const qFrag = (c: number) => v.qShared ? `subgroupMatrixLoad<subgroup_matrix_left<f16, ${F}, ${F}>>(&Qs, sg * ${F * KST}u + ${c * F}u, false, ${KST}u)` : `q${c}`
  // the next tile's K and V units of this thread into registers pk*, pv* (zeros past T)
  const fetch = (from: string) => range(PU).map((i) => `    {
      let u = lid + ${i * TH}u;
      let r = u / ${units}u;
      let c = (u % ${units}u) * 8u;
      pk${i} = vec4<u32>();
      pv${i} = vec4<u32>();
      if (${from} + r < p.T) {
        let at = (((b * p.T + ${from} + r) * p.KV + kvh) * ${D}u + c) / 8u;
        pk${i} = K8[at];
        pv${i} = V8[at];
      }
    }`).join("\n")
  const Hs = hiLoInTiles(v, D) ? "KVs" : "Hs" // where the identity reload's hi/lo fragments go: 2 a subgroup
  const store8 = (arr: string, at: string, x: string) => range(4).map((w) => `{ let h = bitcast<vec2<f16>>(${x}[${w}]); ${arr}[${at} + ${2 * w}u] = h.x; ${arr}[${at} + ${2 * w + 1}u] = h.y; }`).join(" ")
  const zero = `subgroup_matrix_result<f32, ${F}, ${F}>()`
  // accumulate "lanes": pass `pass` covers O columns pass·FP·16 … +FP·16; lane pair slot k holds
  // elements (2e, 2e + 1) of that 16 × FP·16 block, e = lane + 32k: row 2e / (FP·16)
  const pairAt = (k: number) => `let e = 2u * (lane + ${32 * k}u);
      let r = e / ${F * FP}u;
      let c = e % ${F * FP}u;`
  const laneAccumulators = `  // this lane's share of O (f32 pairs; see pairAt)
${range(dc / FP).flatMap((pass) => range(4 * FP).map((k) => `  var a${pass}_${k} = vec2<f32>();`)).join("\n")}`
  const laneProducts = `    // O = O · 2^(m_old − m_new) + P·V: fresh products, ${FP} fragment(s) at a time through the spent score tile
${range(dc / FP).map((pass) => `    if (live) {
${range(FP).map((i) => `      {
        var pv = ${zero};
${range(kf).map((f) => `        if (k0 + ${f * F}u < sgLast) {
          pv = subgroupMatrixMultiplyAccumulate(subgroupMatrixLoad<subgroup_matrix_left<f16, ${F}, ${F}>>(&Ps, sg * ${F * PST}u + ${f * F}u, false, ${PST}u), subgroupMatrixLoad<subgroup_matrix_right<f16, ${F}, ${F}>>(&KVs, ${VT + f * F * KST + (pass * FP + i) * F}u, false, ${KST}u), pv);
        }`).join("\n")}
        subgroupMatrixStore(&Ss, sg * ${F * SST}u + ${i * F}u, pv, false, ${SST}u);
      }`).join("\n")}
    }
    workgroupBarrier();
${range(4 * FP).map((k) => `    {
      ${pairAt(k)}
      let x = (sg * ${F}u + r) * ${SST}u + c;
      a${pass}_${k} = a${pass}_${k} * Al[sg * ${F}u + r] + vec2<f32>(Ss[x], Ss[x + 1u]);
    }`).join("\n")}
    workgroupBarrier();`).join("\n")}
`
  const laneOutput = `  workgroupBarrier();
  // O / row sums out as half-float pairs, straight from the lanes
${range(dc / FP).flatMap((pass) => range(4 * FP).map((k) => `  {
    ${pairAt(k)}
    if (s0 + r < p.S) {
      O2[(((b * p.S + s0 + r) * p.H + h) * ${D}u + ${pass * FP * F}u + c) / 2u] = pack2x16float(a${pass}_${k} / Al[sg * ${F}u + r]);
    }
  }`)).join("\n")}`
  return `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);
struct P { B: u32, S: u32, T: u32, H: u32, KV: u32, _p0: u32, _p1: u32, _p2: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> Q8: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read> K8: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> V8: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> O2: array<u32>;
@group(0) @binding(4) var<uniform> p: P;${withLse ? "\n@group(0) @binding(5) var<storage, read_write> LSE: array<f32>;" : ""}
// The lanes' own arrays first, then the fragments' in reverse: the order that made session 5's
// one-pass form right on the H100 (see attention-tc.ts; the other order gave deterministic wrong outputs there).
var<workgroup> Mx: array<f32, ${TH}>; // each lane's half-row max, then its half sum
var<workgroup> Al: array<f32, ${NW * F}>; // each row's rescale factor, then its sum
var<workgroup> flag: u32; // some row's max rose past the slack in this block${inStep ? `
var<workgroup> Fl: array<u32, ${NW}>; // k0 + 1 where some row of this subgroup's max rose past the slack in block k0` : ""}${identity ? `${Hs === "Hs" ? `
var<workgroup> Hs: array<f16, ${NW * 2 * F * F * FP}>;` : ""}
var<workgroup> Id: array<f16, ${F * F}>;` : ""}
var<workgroup> Ps: array<f16, ${NW * F * PST}>;
var<workgroup> Ss: array<f32, ${NW * F * SST}>; // scores; O fragments on their way through
var<workgroup> KVs: array<f16, ${(db ? 2 : 1) * 2 * KB * KST}>; // the K tile, then the V tile${db ? " (twice: this block's, the next one's)" : ""}${v.qShared ? `
var<workgroup> Qs: array<f16, ${NW * F * KST}>; // the workgroup's Q rows, for the whole key loop` : ""}

@compute @workgroup_size(${TH})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let groups = p.H / ${v.heads}u;
  let b = wg.x / groups;
  let h0 = (wg.x % groups) * ${v.heads}u;
  let kvh = h0 / (p.H / p.KV);
  let qb = nwg.y - 1u - wg.y; // every head's longest (causal) rows first
  let sg = lid / 32u;
  let lane = lid % 32u;
  let h = h0 + sg / ${SQ}u;
  let s0 = qb * ${v.queries}u + (sg % ${SQ}u) * ${F}u; // the first query of these 32 lanes
  let past = p.T - p.S;
  let live = s0 < p.S; // the same for the 32 lanes
  let last = min(p.T, past + min(p.S, qb * ${v.queries}u + ${v.queries}u)); // keys any query here may see
  let sgLast = past + min(p.S, s0 + ${F}u); // keys the queries of these 32 lanes may see
  let row = lane / 2u;
  let half = lane % 2u;
  let pos = past + s0 + row;
  let rowValid = s0 + row < p.S;
  let cs = p.scale * ${LOG2E};
${identity ? `  for (var i = lid; i < ${F * F}u; i += ${TH}u) { Id[i] = select(f16(0.0), f16(1.0), i / ${F}u == i % ${F}u); }\n` : ""}  // the workgroup's Q rows through Ks (zeros past S), then into fragments
  for (var u = lid; u < ${NW * F * units}u; u += ${TH}u) {
    let r = u / ${units}u;
    let c = (u % ${units}u) * 8u;
    let w = r / ${F}u;
    let s = qb * ${v.queries}u + (w % ${SQ}u) * ${F}u + r % ${F}u;
    var x = vec4<u32>();
    if (s < p.S) { x = Q8[(((b * p.S + s) * p.H + h0 + w / ${SQ}u) * ${D}u + c) / 8u]; }
    ${store8(QT, `${qBase ? `${qBase}u + ` : ""}r * ${KST}u + c`, "x")}
  }${db ? `
  // the first K and V tile
${stageAt("0u", "0u")}` : ""}
  workgroupBarrier();
${v.qShared ? "" : range(dc).map((c) => `  let q${c} = subgroupMatrixLoad<subgroup_matrix_left<f16, ${F}, ${F}>>(&KVs, sg * ${F * KST}u + ${qBase + c * F}u, false, ${KST}u);\n`).join("")}  if (lid == 0u) { flag = 0u; }${inStep ? `
  if (lid < ${NW}u) { Fl[lid] = 0u; }` : ""}
  workgroupBarrier();${v.prefetch ? `
${range(PU).map((i) => `  var pk${i} = vec4<u32>();
  var pv${i} = vec4<u32>();`).join("\n")}
${fetch("0u")}` : ""}
  // the loop's state declared right before it, with no branch or barrier between, as in the
  // two-pass kernel (tried in session 6's round 2: the H100's outputs did not change)
  var m = -3.0e38; // the row's running max (log₂ units; both lanes of a row agree)
  var l = 0.0; // this lane's share of the row's Σ P
${lanes ? laneAccumulators : range(dc).map((c) => `  var o${c} = ${zero};`).join("\n")}${db ? `
  var cur = 0u; // where this block's tile starts in KVs` : ""}
  for (var k0 = 0u; k0 < last; k0 += ${KB}u) {
${db ? `    // the next K and V tile into the other half while this one is used
    let nxt = ${2 * KB * KST}u - cur;
    if (k0 + ${KB}u < last) {
${stageAt(`k0 + ${KB}u`, "nxt")}
    }` : v.prefetch ? `    // the K and V tile fetched during the last block, then the next one's loads in flight
${range(PU).map((i) => `    {
      let u = lid + ${i * TH}u;
      let r = u / ${units}u;
      let c = (u % ${units}u) * 8u;
      ${store8("KVs", `r * ${KST}u + c`, `pk${i}`)}
      ${store8("KVs", `${VT}u + r * ${KST}u + c`, `pv${i}`)}
    }`).join("\n")}
    workgroupBarrier();
    if (k0 + ${KB}u < last) {
${fetch(`k0 + ${KB}u`)}
    }` : v.unrollStaging ? `    // the K and V tile, zeros past T: every load of this lane, then every store
${stageUnrolled("k0", "0u")}
    workgroupBarrier();` : v.stage === "words" ? `    // the K and V tile one 4-byte word a lane (32 lanes' stores: 128 contiguous bytes), zeros past T
    for (var u = lid; u < ${KB * D / 2}u; u += ${TH}u) {
      let r = u / ${D / 2}u;
      let c = (u % ${D / 2}u) * 2u;
      var xk = 0u;
      var xv = 0u;
      if (k0 + r < p.T) {
        let at = (((b * p.T + k0 + r) * p.KV + kvh) * ${D}u + c) / 2u;
        xk = K8[at / 4u][at % 4u];
        xv = V8[at / 4u][at % 4u];
      }
      { let h = bitcast<vec2<f16>>(xk); KVs[r * ${KST}u + c] = h.x; KVs[r * ${KST}u + c + 1u] = h.y; }
      { let h = bitcast<vec2<f16>>(xv); KVs[${VT}u + r * ${KST}u + c] = h.x; KVs[${VT}u + r * ${KST}u + c + 1u] = h.y; }
    }
    workgroupBarrier();` : `    // the K and V tile, zeros past T
    for (var u = lid; u < ${KB * units}u; u += ${TH}u) {
      let r = u / ${units}u;
      let c = (u % ${units}u) * 8u;
      var xk = vec4<u32>();
      var xv = vec4<u32>();
      if (k0 + r < p.T) {
        let at = (((b * p.T + k0 + r) * p.KV + kvh) * ${D}u + c) / 8u;
        xk = K8[at];
        xv = V8[at];
      }
      ${store8("KVs", `r * ${KST}u + c`, "xk")}
      ${store8("KVs", `${VT}u + r * ${KST}u + c`, "xv")}
    }
    workgroupBarrier();`}
${v.interleave ? `    // S = Q·Kᵀ, every key fragment of the block at once (past the last visible key: masked below)
    if (live && k0 < sgLast) {
${range(kf).map((f) => `      var sc${f} = ${zero};`).join("\n")}
${range(dc).map((c) => `      {
        let qc = ${qFrag(c)};
${range(kf).map((f) => `        sc${f} = subgroupMatrixMultiplyAccumulate(qc, subgroupMatrixLoad<subgroup_matrix_right<f16, ${F}, ${F}>>(&KVs, ${kvAt(f * F * KST + c * F)}, true, ${KST}u), sc${f});`).join("\n")}
      }`).join("\n")}
${range(kf).map((f) => `      subgroupMatrixStore(&Ss, sg * ${F * SST}u + ${f * F}u, sc${f}, false, ${SST}u);`).join("\n")}
    }` : `    // S = Q·Kᵀ over the key fragments some row here may see
${range(kf).map((f) => `    if (live && k0 + ${f * F}u < sgLast) {
      var s = ${zero};
${range(dc).map((c) => `      s = subgroupMatrixMultiplyAccumulate(${qFrag(c)}, subgroupMatrixLoad<subgroup_matrix_right<f16, ${F}, ${F}>>(&KVs, ${kvAt(f * F * KST + c * F)}, true, ${KST}u), s);`).join("\n")}
      subgroupMatrixStore(&Ss, sg * ${F * SST}u + ${f * F}u, s, false, ${SST}u);
    }`).join("\n")}`}
    ${sync("the scores")}
    let at = (sg * ${F}u + row) * ${SST}u;
${v.unroll ? `    // this lane's half row of scores (keys half, half + 2, …), masked, in registers
${range(KB / 2).map((i) => `    let x${i} = select(-3.0e38, Ss[at + ${2 * i}u + half] * cs, k0 + ${2 * i}u + half <= pos && rowValid);`).join("\n")}
    var mb = x0;
${range(KB / 2 - 1).map((i) => `    mb = max(mb, x${i + 1});`).join("\n")}` : `    var mb = -3.0e38;
    for (var j = half; j < ${KB}u; j += 2u) {
      if (k0 + j <= pos && rowValid) { mb = max(mb, Ss[at + j] * cs); }
    }`}
${v.shuffle ? `    mb = max(mb, subgroupShuffleXor(mb, 1u));` : `    Mx[lid] = mb;
    ${sync("the partner lane's half max")}
    mb = max(mb, Mx[lid ^ 1u]);`}
${always ? `    // rescaled every block (no branch around the round trip)
${raiseMax("    ", "let ")}` : ws ? `    // rescale where some row's max rose past the slack: ${inStep ? "this subgroup's decision (its own flag" : "the workgroup's (one flag"}, marked with the block, never cleared)
    if (mb > m + ${SLACK}.0) { ${inStep ? "Fl[sg]" : "flag"} = k0 + 1u; }
${inStep ? `    ${sync("the flag")}
    let raise = Fl[sg] == k0 + 1u;` : `    let raise = workgroupUniformLoad(&flag) == k0 + 1u;`}
    var alpha = 1.0;
    if (raise) {
${raiseMax("      ", "")}
    }` : `    if (mb > m + ${SLACK}.0) { flag = 1u; }
    let raise = workgroupUniformLoad(&flag) != 0u;
    var alpha = 1.0;
    if (raise) {
${raiseMax("      ", "")}
      workgroupBarrier(); // every lane has read the flag before it is cleared
      if (lid == 0u) { flag = 0u; }
    }`}
    let pat = (sg * ${F}u + row) * ${PST}u;
${v.unroll ? range(KB / 2).map((i) => `    { let pr = select(0.0, exp2(x${i} - m), k0 + ${2 * i}u + half <= pos && rowValid); l += pr; Ps[pat + ${2 * i}u + half] = f16(pr); }`).join("\n") : `    for (var j = half; j < ${KB}u; j += 2u) {
      let pr = select(0.0, exp2(Ss[at + j] * cs - m), k0 + j <= pos && rowValid);
      l += pr;
      Ps[pat + j] = f16(pr);
    }`}
    if (half == 0u) { Al[sg * ${F}u + row] = alpha; }
    ${sync("P and the rescale factors")}
${lanes ? laneProducts : `    ${always ? "{" : "if (raise && k0 > 0u) {"}
      // O ·= 2^(m_old − m_new) row by row, ${FP} fragment(s) at a time through the score tile (the
      // scores are spent)${identity ? `, back as half-float hi + lo (in ${Hs === "KVs" ? "the spent K tile" : "Hs"}) times the identity` : ""}
${range(dc / FP).map((pass) => `      if (live) {
${range(FP).map((i) => `        subgroupMatrixStore(&Ss, sg * ${F * SST}u + ${i * F}u, o${pass * FP + i}, false, ${SST}u);`).join("\n")}
      }
      ${sync("O's fragments")}
${laneLoop(F * F * FP, "      ", (i) => `let r = ${i} / ${F * FP}u;
        let x = (sg * ${F}u + r) * ${SST}u + ${i} % ${F * FP}u;
        let y = Ss[x] * Al[sg * ${F}u + r];
${identity ? `        let hi = f16(y);
        ${Hs}[sg * ${2 * F * F * FP}u + ${i}] = hi;
        ${Hs}[sg * ${2 * F * F * FP}u + ${F * F * FP}u + ${i}] = f16(y - f32(hi));` : `        Ss[x] = y;`}`)}
      ${sync("O scaled")}
      if (live) {
${identity ? `        let idm = subgroupMatrixLoad<subgroup_matrix_left<f16, ${F}, ${F}>>(&Id, 0u, false, ${F}u);
${range(FP).map((i) => `        o${pass * FP + i} = subgroupMatrixMultiplyAccumulate(idm, subgroupMatrixLoad<subgroup_matrix_right<f16, ${F}, ${F}>>(&${Hs}, sg * ${2 * F * F * FP}u + ${i * F}u, false, ${F * FP}u),
          subgroupMatrixMultiplyAccumulate(idm, subgroupMatrixLoad<subgroup_matrix_right<f16, ${F}, ${F}>>(&${Hs}, sg * ${2 * F * F * FP}u + ${F * F * FP + i * F}u, false, ${F * FP}u), ${zero}));`).join("\n")}` : range(FP).map((i) => `        o${pass * FP + i} = subgroupMatrixLoad<subgroup_matrix_result<f32, ${F}, ${F}>>(&Ss, sg * ${F * SST}u + ${i * F}u, false, ${SST}u);`).join("\n")}
      }
      ${sync("O reloaded before the next pass overwrites the tile")}`).join("\n")}
    }
    // O += P·V over the key fragments some row here may see
${range(kf).map((f) => `    if (live && k0 + ${f * F}u < sgLast) {
      let pm = subgroupMatrixLoad<subgroup_matrix_left<f16, ${F}, ${F}>>(&Ps, sg * ${F * PST}u + ${f * F}u, false, ${PST}u);
${range(dc).map((c) => `      o${c} = subgroupMatrixMultiplyAccumulate(pm, subgroupMatrixLoad<subgroup_matrix_right<f16, ${F}, ${F}>>(&KVs, ${kvAt(VT + f * F * KST + c * F)}, false, ${KST}u), o${c});`).join("\n")}
    }`).join("\n")}`}
    workgroupBarrier(); // before the next tile overwrites KVs, Ss and Ps${db ? `
    cur = nxt;` : ""}
  }
${v.shuffle ? `  let lr = max(l + subgroupShuffleXor(l, 1u), 1e-30);` : `  Mx[lid] = l;
  workgroupBarrier();
  let lr = max(l + Mx[lid ^ 1u], 1e-30);`}
  if (half == 0u) {
    Al[sg * ${F}u + row] = lr;${withLse ? `
    // for the backward: P = exp(scale·q·k − LSE)
    if (rowValid) { LSE[(b * p.S + s0 + row) * p.H + h] = (m + log2(lr)) * ${LN2}; }` : ""}
  }
${lanes ? laneOutput : `  // O / row sums out as half-float pairs, ${FP} fragment(s) at a time through the score tile
${range(dc / FP).map((pass) => `  if (live) {
${range(FP).map((i) => `    subgroupMatrixStore(&Ss, sg * ${F * SST}u + ${i * F}u, o${pass * FP + i}, false, ${SST}u);`).join("\n")}
  }
  workgroupBarrier();
${laneLoop(F * FP * 8, "  ", (i) => `let r = ${i} / ${FP * 8}u;
    let c = (${i} % ${FP * 8}u) * 2u;
    if (s0 + r < p.S) {
      let inv = 1.0 / Al[sg * ${F}u + r];
      let x = (sg * ${F}u + r) * ${SST}u + c;
      O2[(((b * p.S + s0 + r) * p.H + h) * ${D}u + ${pass * FP * F}u + c) / 2u] = pack2x16float(vec2<f32>(Ss[x] * inv, Ss[x + 1u] * inv));
    }`)}
  workgroupBarrier();`).join("\n")}`}
}
`
}

export class FlashAttentionShapeError extends Error {}

/**
 * Compiles the one-pass multi-subgroup attention for head_dim `D` (a multiple of 16). Any S and T;
 * H / KV must be a multiple of the variant's heads. `emulate` rewrites the WGSL before it compiles
 * (tests without tensor cores: test/helpers/kernels/subgroup-matrix-emulation.ts).
 */
export const flashAttention = async (gpu: Gpu, D: number, v: FlashAttentionVariant = DEFAULT_FLASH_ATTENTION, withLse = false, emulate?: (wgsl: string) => string) => {
  // emulated (SwiftShader): every barrier kept, its lanes do not run in step
  const wgsl = flashAttentionWgsl(D, v, withLse, { barriers: emulate !== undefined })
  const p = await pipeline(gpu.device, emulate ? emulate(wgsl) : wgsl, `${flashAttentionName(v)}-d${D}${withLse ? "-lse" : ""}`)
  return (b: { Q: Binding; K: Binding; V: Binding; O: Binding; params: GPUBuffer; LSE?: Binding }, B: number, S: number, H: number, _T = S, KV?: number): Dispatch => {
    if (H % v.heads !== 0 || (KV !== undefined && (H / KV) % v.heads !== 0)) throw new FlashAttentionShapeError(`flash attention: ${v.heads} query heads a workgroup must divide the ${KV === undefined ? H : H / KV} query heads of a kv head`)
    if (withLse && !b.LSE) throw new FlashAttentionShapeError("flash attention compiled with LSE output: bind LSE [B, S, H] f32")
    return { pipeline: p, buffers: [b.Q, b.K, b.V, b.O, b.params, ...(withLse ? [b.LSE!] : [])], groups: [(B * H) / v.heads, Math.ceil(S / v.queries)] }
  }
}
