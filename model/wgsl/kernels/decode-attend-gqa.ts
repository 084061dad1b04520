import { range } from "./codegen.ts"
import type { DecodeStorage } from "./decode-gemv-spec.ts"
import { type Gpu, maxWorkgroupThreads } from "./device.ts"

/**
 * The decoding attention for many rows ("gqa", issue 22 item 4): one workgroup per (row, kv head)
 * computing every query head of its group (group = H / KV), so each cached key and value is read
 * once a step, where decodeAttendCoalescedWgsl (one workgroup per (row, query head)) read them
 * once per query head, and the keys go through subgroup operations instead of workgroup barriers:
 *
 * - a workgroup is GQA_WARPS (8) subgroups of `width` lanes; a sweep gives each subgroup `width`
 *   consecutive keys. A key's row is read by a team of T = min(width, D / 4) lanes, 4 values a
 *   lane (T consecutive vec4s: one coalesced row a load instruction), so every lane holds D / (4T)
 *   vec4s of each of its team's T keys and the matching vec4s of the group's queries (registers);
 * - each lane's partial dot products of its team's T keys (per query head) are reduced *and
 *   scattered* by a butterfly of subgroupShuffleXor (T − 1 shuffles a head for T keys, not
 *   T · log2 T): lane i ends with the whole score of key i of its team;
 * - the online softmax runs per subgroup (max by subgroupMax, each lane's own key's weight), the
 *   values are summed with each weight broadcast by subgroupShuffle (a lane keeps its vec4s of
 *   the output), and the subgroups' partial softmaxes meet once, after the last sweep, through
 *   workgroup memory: no barrier in the key loop (the coalesced kernel had 5 a block of 64 keys,
 *   and every thread walked the block's 64 scores for the max and for the sum);
 * - the first sweep's keys and values are loaded before the q/k norm and RoPE (they depend on no
 *   value of it, so their latency overlaps it), and each next sweep's once the registers holding
 *   the current one are used (keys after the butterflies, values after the weighted sum): at
 *   width 32, head_dim 128 and f16, a lane holds 32 vec4s of keys and 32 of values a sweep.
 *
 * Same bindings, uniform and semantics as decodeAttendCoalescedWgsl: QKV the qkv GEMV's f32
 * output [rows, (H + 2·KV)·D], Qwen3's per-head RMSNorm of q and k (QN, KN) then RoPE at p.pos,
 * q, k and v rounded to `storage`, the new key and value used from workgroup memory at pos and
 * appended to the caches [positions, rows, KV, D] by this workgroup (the only one of its (row, kv
 * head)), O [rows, H, D] in `storage`. Grid [rows, KV].
 *
 * The split form (GqaAttendSpec.split, decode-layer.ts "gqa-split") is flash-decoding over this
 * kernel: a workgroup a (row, kv head, one sweep of the positions) writing partial softmaxes that
 * decodeAttendCombineWgsl folds, for grids too small for the card (rows × KV workgroups: 128 at
 * 16 rows of Qwen3-0.6B on 132 SMs, 8 at one row).
 *
 * Needs subgroups of one fixed width (gqaSubgroupWidth): the butterfly assumes `width` lanes, the
 * lanes of subgroup s being local invocations s · width … (s + 1) · width − 1. SwiftShader's width
 * of 4 runs the same generator as a card's 32 (only the unrolled counts differ).
 */
export interface GqaAttendSpec {
  /** head_dim: a multiple of 8 (RoPE pairs whole vec4s) */
  readonly D: number
  readonly storage: DecodeStorage
  /** query heads a kv head (H / KV) */
  readonly group: number
  /** the subgroups' width (gqaSubgroupWidth) */
  readonly width: number
  /** subgroups a workgroup (default GQA_WARPS): a sweep is warps × (width / T) teams × `keys` keys */
  readonly warps?: number
  /**
   * keys a team of T lanes takes a sweep (default T: each lane then ends with one key's score): a
   * power of two up to T. Fewer keys hold fewer registers a lane (a lane holds keys · D / (4T)
   * vec4s of keys and as many of values a sweep: at T = 32, head_dim 128, f16, 32 keys are ~130
   * registers for the loads alone, which leaves an SM room for one workgroup of 8 subgroups), so
   * more subgroups fit an SM to hide the loads' and shuffles' latency; the butterfly then stops
   * scattering after log2(keys) rounds and adds the rest, T / keys lanes ending with each score.
   */
  readonly keys?: number
  /**
   * true: flash-decoding, grid [rows, KV, ⌈positions / sweep⌉]: each workgroup takes one sweep of
   * the cache and writes its partial softmax to Part (binding 5, in O's place) as
   * decodeAttendSplitWgsl's records (per (chunk, row, query head): D unnormalised sums, the max,
   * the sum of weights), for decodeAttendCombineWgsl with a chunk of one sweep. Only the
   * workgroup whose sweep holds pos appends the new key and value.
   */
  readonly split?: boolean
}

/** Subgroups a workgroup: 8 warps of 32 lanes on NVIDIA (256 threads), each sweep 256 keys. */
export const GQA_WARPS = 8

/** Workgroup memory the subgroups' partial outputs take at most (they meet in rounds of heads that fit). */
const MERGE_BYTES = 8192

const isPowerOfTwo = (n: number): boolean => n >= 1 && (n & (n - 1)) === 0

/** Lanes reading one key's row: the subgroup, or D / 4 where the row is shorter than a subgroup's vec4s. */
const teamLanes = (D: number, width: number): number => Math.min(width, D / 4)

/** The spec's team: teamLanes. */
export const gqaTeamLanes = (s: Pick<GqaAttendSpec, "D" | "width">): number => teamLanes(s.D, s.width)

/** Whether the spec's keys a team is one the generator writes: a power of two up to the team's lanes. */
export const gqaKeysFit = (s: GqaAttendSpec): boolean => s.keys === undefined || (isPowerOfTwo(s.keys) && s.keys <= gqaTeamLanes(s))

/** Keys a workgroup takes a sweep (the split form's chunk: one sweep). */
export const gqaChunkKeys = (s: GqaAttendSpec): number => {
  const T = gqaTeamLanes(s)
  return (s.warps ?? GQA_WARPS) * (s.width / T) * (s.keys ?? T)
}

/** Query heads whose partial outputs meet in one round (each subgroup's D values a head in f32). */
const mergeHeads = (s: GqaAttendSpec): number => Math.max(1, Math.min(s.group, Math.floor(MERGE_BYTES / ((s.warps ?? GQA_WARPS) * s.D * 4))))

/**
 * The subgroup width the gqa attention can be written for on this device, or undefined: the
 * adapter must have subgroups of one fixed width (Dawn: subgroupMinSize = subgroupMaxSize; 32
 * where it does not say, as matmul.ts subgroupsOf32 assumes for the tensor-core tiles), a power
 * of two whose team (teamLanes) divides a key's D / 4 vec4s, and GQA_WARPS of them must fit a workgroup.
 */
export const gqaSubgroupWidth = (gpu: Gpu, D: number): number | undefined => {
  const sizes = gpu.subgroupSizes ?? { min: 32, max: 32 }
  if (!gpu.device.features.has("subgroups") || sizes.min !== sizes.max) return undefined
  const width = sizes.min
  const T = teamLanes(D, width)
  if (!isPowerOfTwo(width) || D % 8 !== 0 || !isPowerOfTwo(T) || (D / 4) % T !== 0) return undefined
  if (GQA_WARPS * width > maxWorkgroupThreads(gpu)) return undefined
  return width
}

/** Bytes of workgroup memory the kernel declares. */
export const gqaSharedBytes = (s: GqaAttendSpec): number => {
  const D4 = s.D / 4
  const heads = s.group + 1
  const warps = s.warps ?? GQA_WARPS
  return 16 * heads * D4 + 4 * heads * D4 + 16 * (s.group + 2) * D4 + 8 * warps * s.group + 16 * warps * mergeHeads(s) * D4
}

export const decodeAttendGqaWgsl = (s: GqaAttendSpec): string => {
  const { D, storage: S, group: G, width: P } = s
  if (D % 8 !== 0 || !isPowerOfTwo(P) || G < 1) throw new Error(`gqa attention: head_dim ${D} (a multiple of 8), subgroup width ${P} (a power of two), group ${G}`)
  const D4 = D / 4
  const T = teamLanes(D, P) // lanes a key
  if (!isPowerOfTwo(T) || D4 % T !== 0) throw new Error(`gqa attention: ${T} lanes a key must be a power of two dividing ${D4}`)
  const C4 = D4 / T // vec4s of a key a lane holds
  const KT = s.keys ?? T // keys a team takes a sweep
  if (!gqaKeysFit(s)) throw new Error(`gqa attention: ${KT} keys a team must be a power of two up to its ${T} lanes`)
  const R = T / KT // lanes of a team that end with each key's score
  const NW = s.warps ?? GQA_WARPS
  const WG = NW * P // threads
  const SW = gqaChunkKeys(s) // keys a sweep
  const split = s.split === true
  const NV = G + 1 // vectors normed in the prologue: the group's query heads, then the key
  const GR = mergeHeads(s)
  const heads = range(G)
  const cols = range(C4)
  const keys = range(KT)
  // the lane's vec4 c of key k of its team in the current sweep, as loaded (storage type)
  const kReg = (k: number, c: number) => `kk${k}_${c}`
  const vReg = (k: number, c: number) => `vv${k}_${c}`
  // the team's key k of the sweep starting at `g0` (clamped to pos: a key past it reads a valid row, and is masked)
  const loads = (arr: "K" | "V", reg: (k: number, c: number) => string, g0: string, lead: string) =>
    keys.flatMap((k) => cols.map((c) => `${lead}${reg(k, c)} = ${arr}[min(${g0} + first + ${k}u, p.pos) * stride4 + base4 + ${c * T}u + tl];`)).join("\n")
  // the butterfly: x{g}_{k} (k < KT) partial sums of the team's keys → x{g}_0 the whole score of
  // key tl / R: log2(KT) rounds that halve the keys a lane holds (lane bit o picks the half it
  // keeps), then log2(R) rounds that add the rest
  const butterfly = (g: number): string =>
    range(Math.log2(T)).map((i) => [T >> (i + 1), KT >> (i + 1)] as const).map(([o, half]) => half >= 1 ? `      {
        let up = (tl & ${o}u) != 0u; // upper lanes keep the upper keys and send the lower ones
${range(half).map((k) => `        let send${k} = select(x${g}_${k + half}, x${g}_${k}, up);
        x${g}_${k} = select(x${g}_${k}, x${g}_${k + half}, up) + subgroupShuffleXor(send${k}, ${o}u);`).join("\n")}
      }` : `      x${g}_0 += subgroupShuffleXor(x${g}_0, ${o}u);`).join("\n")
  const rounds = range(Math.ceil(G / GR)).map((r) => [r * GR, Math.min(G, (r + 1) * GR)] as const)
  return `${S === "f16" ? "enable f16;\n" : ""}enable subgroups;
struct P { rows: u32, pos: u32, H: u32, KV: u32, scale: f32, eps: f32, theta: f32, _p0: f32 }
@group(0) @binding(0) var<storage, read> QKV: array<f32>;
@group(0) @binding(1) var<storage, read> QN: array<f32>;
@group(0) @binding(2) var<storage, read> KN: array<f32>;
@group(0) @binding(3) var<storage, read_write> K: array<vec4<${S}>>;
@group(0) @binding(4) var<storage, read_write> V: array<vec4<${S}>>;
${split ? "@group(0) @binding(5) var<storage, read_write> Part: array<f32>;" : `@group(0) @binding(5) var<storage, read_write> O: array<${S}>;`}
@group(0) @binding(6) var<uniform> p: P;
var<workgroup> xs: array<vec4<f32>, ${NV * D4}>; // the group's q heads and the k head, normed in place
var<workgroup> sq: array<f32, ${NV * D4}>; // their vec4s' sums of squares
var<workgroup> q4: array<vec4<f32>, ${G * D4}>;
var<workgroup> k4: array<vec4<f32>, ${D4}>;
var<workgroup> v4: array<vec4<f32>, ${D4}>;
var<workgroup> ms: array<f32, ${NW * G}>; // each subgroup's running max, a head
var<workgroup> ls: array<f32, ${NW * G}>; // and its sum of weights
var<workgroup> accs: array<vec4<f32>, ${NW * GR * D4}>; // and its weighted values, ${GR} head(s) a round
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let row = wg.x;
  let kvh = wg.y;
  let warp = lid / ${P}u;
  let tl = lane % ${T}u; // lane in its team: it reads vec4s tl, tl + ${T}, … of the team's keys
  let first = warp * ${(P / T) * KT}u + (lane / ${T}u) * ${KT}u; // the team's first key in a sweep
  let width = (p.H + 2u * p.KV) * ${D}u;
  let stride4 = p.rows * p.KV * ${D4}u; // one position of the cache, in vec4s
  let base4 = (row * p.KV + kvh) * ${D4}u;
  let len = p.pos + 1u;
${split ? `  let c0 = wg.z * ${SW}u; // this workgroup's sweep of the cache
  if (c0 >= len) { return; } // uniform across the workgroup: nothing cached here yet
  let end = min(len, c0 + ${SW}u);` : `  let c0 = 0u;
  let end = len;`}
  // the first sweep's keys and values, before the prologue (their latency overlaps it)
${loads("K", kReg, "c0", "  var ")}
${loads("V", vReg, "c0", "  var ")}
  // the prologue: the group's q heads and the k head RMS-normed, RoPE at pos, all rounded to ${S}
  for (var i = lid; i < ${NV * D4}u; i += ${WG}u) {
    let vi = i / ${D4}u;
    let at = row * width + select((p.H + kvh) * ${D}u, (kvh * ${G}u + vi) * ${D}u, vi < ${G}u) + (i % ${D4}u) * 4u;
    let x = vec4<f32>(QKV[at], QKV[at + 1u], QKV[at + 2u], QKV[at + 3u]);
    xs[i] = x;
    sq[i] = dot(x, x);
  }
  for (var i = lid; i < ${D4}u; i += ${WG}u) {
    let at = row * width + (p.H + p.KV + kvh) * ${D}u + i * 4u;
    v4[i] = vec4<f32>(vec4<${S}>(vec4<f32>(QKV[at], QKV[at + 1u], QKV[at + 2u], QKV[at + 3u])));
  }
  workgroupBarrier();
  for (var i = lid; i < ${NV * D4}u; i += ${WG}u) {
    let vi = i / ${D4}u;
    let d = (i % ${D4}u) * 4u;
    var ss = 0.0;
    for (var j = 0u; j < ${D4}u; j++) { ss += sq[vi * ${D4}u + j]; }
    let w = select(vec4<f32>(KN[d], KN[d + 1u], KN[d + 2u], KN[d + 3u]), vec4<f32>(QN[d], QN[d + 1u], QN[d + 2u], QN[d + 3u]), vi < ${G}u);
    xs[i] = xs[i] * inverseSqrt(ss / ${D}.0 + p.eps) * w;
  }
  workgroupBarrier();
  for (var i = lid; i < ${NV * D4}u; i += ${WG}u) {
    let vi = i / ${D4}u;
    let c = i % ${D4}u;
    // RoPE, half-split: dimension d with d ± ${D / 2}, which lies in vec4 c ± ${D4 / 2} of the same head
    let fi = vec4<f32>((vec4<u32>(c * 4u) + vec4<u32>(0u, 1u, 2u, 3u)) % vec4<u32>(${D / 2}u) * 2u);
    let angle = f32(p.pos) / pow(vec4<f32>(p.theta), fi / ${D}.0);
    let cs = cos(angle);
    let sn = sin(angle);
    let x = xs[i];
    let other = xs[vi * ${D4}u + (c + ${D4 / 2}u) % ${D4}u];
    let held = vec4<f32>(vec4<${S}>(select(x * cs + other * sn, x * cs - other * sn, c < ${D4 / 2}u)));
    if (vi < ${G}u) { q4[i] = held; } else { k4[c] = held; }
  }
  workgroupBarrier();
  // the new key and value appended at pos: this workgroup is the only one of its (row, kv head)${split ? " whose sweep holds pos" : ""}
${split ? `  if (p.pos / ${SW}u == wg.z) {
` : ""}  for (var i = lid; i < ${D4}u; i += ${WG}u) {
    K[p.pos * stride4 + base4 + i] = vec4<${S}>(k4[i]);
    V[p.pos * stride4 + base4 + i] = vec4<${S}>(v4[i]);
  }${split ? "\n  }" : ""}
${heads.flatMap((g) => cols.map((c) => `  let q${g}_${c} = q4[${g * D4 + c * T}u + tl];`)).join("\n")}
${cols.map((c) => `  let kn${c} = k4[${c * T}u + tl];\n  let vn${c} = v4[${c * T}u + tl];`).join("\n")}
${heads.map((g) => `  var m${g} = -3.0e38;\n  var l${g} = 0.0; // this lane's keys' weights (summed over the subgroup at the end)\n${cols.map((c) => `  var acc${g}_${c} = vec4<f32>(0.0);`).join("\n")}`).join("\n")}
  for (var g0 = c0; g0 < end; g0 += ${SW}u) {
    let kb = g0 + first;
    let more = g0 + ${SW}u < end;
    // the lane's partial dot products of its team's keys (the key at pos from workgroup memory)
${keys.map((k) => `    let at${k} = kb + ${k}u >= p.pos;`).join("\n")}
${heads.flatMap((g) => keys.map((k) => `    var x${g}_${k} = ${cols.map((c) => `dot(q${g}_${c}, select(vec4<f32>(${kReg(k, c)}), kn${c}, at${k}))`).join(" + ")};`)).join("\n")}
${heads.map(butterfly).join("\n")}
    // the next sweep's keys into the registers the dot products freed (issued after the butterflies,
    // whose ${G} × ${T} partial sums would otherwise share the registers with them and the values)
    if (more) {
${loads("K", kReg, `(g0 + ${SW}u)`, "      ")}
    }
    // the lane's own key kb + tl / ${R}: its scores, the subgroup's online softmax${R > 1 ? ` (its weight in the sum of weights once: from the first of its ${R} lanes)` : ""}
    let valid = kb + tl${R > 1 ? ` / ${R}u` : ""} < end;
${heads.map((g) => `    {
      let sc = select(-3.0e38, x${g}_0 * p.scale, valid);
      let mn = max(m${g}, subgroupMax(sc));
      let corr = exp(m${g} - mn);
      let w = select(0.0, exp(sc - mn), valid);
      l${g} = l${g} * corr + ${R > 1 ? `select(0.0, w, tl % ${R}u == 0u)` : "w"};
      m${g} = mn;
${cols.map((c) => `      acc${g}_${c} = acc${g}_${c} * corr;`).join("\n")}
${keys.map((k) => `      let w${k} = subgroupShuffle(w, lane - tl + ${k * R}u);\n${cols.map((c) => `      acc${g}_${c} += w${k} * select(vec4<f32>(${vReg(k, c)}), vn${c}, at${k});`).join("\n")}`).join("\n")}
    }`).join("\n")}
    if (more) {
${loads("V", vReg, `(g0 + ${SW}u)`, "      ")}
    }
  }
${T < P ? `  // the teams of a subgroup summed their own keys' values (under one max): their sums added
${range(Math.log2(P / T)).map((i) => T << i).flatMap((o) => heads.flatMap((g) => cols.map((c) => `  acc${g}_${c} += subgroupShuffleXor(acc${g}_${c}, ${o}u);`))).join("\n")}
` : ""}  // the subgroups' partial softmaxes meet: the max over them, each rescaled to it
${heads.map((g) => `  let lsum${g} = subgroupAdd(l${g});`).join("\n")}
  if (lane == 0u) {
${heads.map((g) => `    ms[warp * ${G}u + ${g}u] = m${g};\n    ls[warp * ${G}u + ${g}u] = lsum${g};`).join("\n")}
  }
${rounds.map(([lo, hi], r) => `${r > 0 ? "  workgroupBarrier(); // the last round's sums are read\n" : ""}  if (lane < ${T}u) {
${range(hi - lo).flatMap((gi) => cols.map((c) => `    accs[(warp * ${GR}u + ${gi}u) * ${D4}u + ${c * T}u + tl] = acc${lo + gi}_${c};`)).join("\n")}
  }
  workgroupBarrier();
  for (var i = lid; i < ${(hi - lo) * D4}u; i += ${WG}u) {
    let gi = i / ${D4}u;
    let g = ${lo}u + gi;
    var mx = -3.0e38;
    for (var w = 0u; w < ${NW}u; w++) { mx = max(mx, ms[w * ${G}u + g]); }
    var l = 0.0;
    var o = vec4<f32>(0.0);
    for (var w = 0u; w < ${NW}u; w++) {
      let f = exp(ms[w * ${G}u + g] - mx);
      l += f * ls[w * ${G}u + g];
      o += f * accs[(w * ${GR}u + gi) * ${D4}u + i % ${D4}u];
    }
${split ? `    // the chunk's record: its unnormalised sums, its max and its sum of weights
    let rec = ((wg.z * p.rows + row) * p.H + kvh * ${G}u + g) * ${D + 4}u;
    let at = rec + (i % ${D4}u) * 4u;
    Part[at] = o.x;
    Part[at + 1u] = o.y;
    Part[at + 2u] = o.z;
    Part[at + 3u] = o.w;
    if (i % ${D4}u == 0u) {
      Part[rec + ${D}u] = mx;
      Part[rec + ${D + 1}u] = l;
    }` : `    let r = vec4<${S}>(o / l);
    let at = (row * p.H + kvh * ${G}u + g) * ${D}u + (i % ${D4}u) * 4u;
    O[at] = r.x;
    O[at + 1u] = r.y;
    O[at + 2u] = r.z;
    O[at + 3u] = r.w;`}
  }`).join("\n")}
}
`
}
