/**
 * Why is every one-pass attention forward wrong on the H100 (issue 22 item 2)? Runs the forward
 * attention kernels at tiny shapes with structured inputs against a CPU reference and prints
 * compact lines: which kernel, which case, max |Δ| against the reference, how many outputs still
 * hold the sentinel the output buffer was filled with (a kernel that never writes O), NaNs, the
 * LSE's error, whether two runs agree bit for bit, every error scope (validation, internal,
 * out-of-memory) around compilation and dispatch, and the compiler's messages.
 *
 * Kernels: the two-pass kernel (right on the card, the control), session 5's one-pass form, the
 * flash kernel (attention-flash.ts), and hand-edited variants of the one-pass form and the
 * two-pass form that each change one construct (the bisection of the brief):
 *   s5-a   m fixed at 0 (no running max, no flag, never a rescale)   — valid while exp(score) fits f16
 *   s5-b   no flag: `raise` always true (rescale, round trip, every block after the first)
 *   s5-c   no round trip of O through workgroup memory (right where no max rises after block 0: with -a)
 *   s5-ac  -a and -c: the one-pass loop with nothing but P = exp(s), l += P, O += P·V, O / l at the end
 *   s5-acn -ac without the division: must equal Σ exp(s)·V (the CPU's unnormalised sum)
 *   s5-old session 5's order of the workgroup arrays (the fragments' first, the lanes' after): the
 *          only change between right and wrong on the H100 in session 7's round 1 (then "s5-r", the
 *          reverse of that order, was the only right variant; the kernels now declare it)
 *   s5-sh  row stats through subgroupShuffleXor instead of workgroup memory
 *   s5-bc  -b and -c: no flag, l rescaled every block, O never (right only where one block holds every key)
 *   tp-1   the two-pass kernel's second loop alone (first loop skipped, m = 0, l = 1): must equal Σ exp(s)·V
 *   tp-al  the two-pass kernel dividing its output by a workgroup array Al (= 1): the one-pass output path
 *   tp-un  the two-pass kernel with P not divided by the row sum, O divided by it at the end
 *   flash-la-a  the flash kernel (O in the lanes) with m fixed at 0: no running max, no rescale
 *   *-dbg  the same kernel writing its state (m, l of each lane, the P and score tiles of two blocks,
 *          the O tile before the division and Al) for one workgroup into a debug buffer, printed.
 * Cases (B 1): Q = 0 (all scores 0: row s must be the mean of V[0..s]) and "identity" attention
 * (Q[s] = K[s] = 2·e_(s mod D), scale 2: row s sees one score of 8 among zeros), with V[t][d] =
 * t·D + d so that an output value names the V element it came from; random inputs as in the test.
 * Everything runs twice: with Dawn's robustness on (the default) and off (disable_robustness:
 * Tint then neither clamps indices nor predicates subgroup-matrix loads and stores).
 *
 *   node bench/gpu/attention-probe.mjs [--only NAME,NAME] [--rows] [--no-robustness-off] [--check-wgsl] [--print NAME D]
 *
 * On an adapter without subgroup matrices (SwiftShader) the fragments are emulated in f32
 * (test/helpers/kernels/subgroup-matrix-emulation.ts), O is written as f32, and the robustness-off
 * pass is skipped: a check of the probe itself, not of the kernels on a card.
 */
import { f16BitsToF32, f32ToF16Bits, readBuffer, roundF16, storageBuffer, toF16, uniformBuffer } from "../../model/wgsl/kernels/buffers.ts"
import { DAWN_TOGGLES, openGpu, pickMatrixConfig, type Gpu } from "../../model/wgsl/kernels/device.ts"
import { attentionTcWgsl, ONE_PASS_ATTENTION_TC, TWO_PASS_ATTENTION_TC } from "../../model/wgsl/kernels/attention-tc.ts"
import { DEFAULT_FLASH_ATTENTION, flashAttentionName, flashAttentionValid, flashAttentionWgsl, type FlashAttentionVariant } from "../../model/wgsl/kernels/attention-flash.ts"
import { emulateSubgroupMatrices } from "../../test/helpers/kernels/subgroup-matrix-emulation.ts"

const argv = process.argv.slice(2)
const only = argv.includes("--only") ? new Set(argv[argv.indexOf("--only") + 1]!.split(",")) : undefined
const allRows = argv.includes("--rows")

interface Case {
  readonly name: string
  readonly S: number
  readonly T: number
  readonly H: number
  readonly KV: number
  readonly D: number
  readonly q: "zero" | "identity" | "random"
  readonly v: "code" | "random"
  readonly growing?: boolean
}
const CASES: ReadonlyArray<Case> = [
  { name: "zeroQ-d16", S: 16, T: 16, H: 1, KV: 1, D: 16, q: "zero", v: "code" },
  { name: "ident-d16", S: 16, T: 16, H: 1, KV: 1, D: 16, q: "identity", v: "code" },
  { name: "zeroQ-d128", S: 16, T: 16, H: 1, KV: 1, D: 128, q: "zero", v: "code" },
  { name: "ident-d128", S: 16, T: 16, H: 1, KV: 1, D: 128, q: "identity", v: "code" },
  { name: "ident-d16-T64-gqa", S: 64, T: 64, H: 2, KV: 1, D: 16, q: "identity", v: "code" },
  { name: "rand-d128-cache", S: 32, T: 48, H: 2, KV: 1, D: 128, q: "random", v: "random" },
  { name: "rand-d128-grow", S: 64, T: 96, H: 2, KV: 1, D: 128, q: "random", v: "random", growing: true }
]

let seed = 12345
const rnd = () => {
  seed = (seed * 1103515245 + 12345) >>> 0
  return (seed / 2 ** 32) * 2 - 1
}

/** Inputs (f16-exact), the scale, and the CPU's O, LSE and Σ exp(s)·V (m = 0), in f64. */
const prepare = (c: Case) => {
  const { S, T, H, KV, D } = c
  const Q = new Float32Array(S * H * D)
  const K = new Float32Array(T * KV * D)
  const V = new Float32Array(T * KV * D)
  let scale = 1 / Math.sqrt(D)
  if (c.q === "identity") {
    scale = 2
    for (let s = 0; s < S; s++) for (let h = 0; h < H; h++) Q[(s * H + h) * D + ((T - S + s) % D)] = 2
    for (let t = 0; t < T; t++) for (let k = 0; k < KV; k++) K[(t * KV + k) * D + (t % D)] = 2
  } else {
    if (c.q === "random") for (let i = 0; i < Q.length; i++) Q[i] = rnd()
    for (let i = 0; i < K.length; i++) K[i] = rnd() * (c.growing ? 1 + Math.floor(i / (KV * D)) / 2 : 1)
  }
  for (let t = 0; t < T; t++) for (let k = 0; k < KV; k++) for (let d = 0; d < D; d++) V[(t * KV + k) * D + d] = c.v === "code" ? t * D + d + k * 0.5 : rnd()
  const [Qr, Kr, Vr] = [roundF16(Q), roundF16(K), roundF16(V)]
  const O = new Float64Array(S * H * D)
  const U = new Float64Array(S * H * D) // Σ exp(s)·V, no max subtracted
  const LSE = new Float64Array(S * H)
  let maxScore = 0
  for (let s = 0; s < S; s++) for (let h = 0; h < H; h++) {
    const kvh = Math.floor(h / (H / KV))
    const scores: Array<number> = []
    for (let t = 0; t <= T - S + s; t++) {
      let dot = 0
      for (let d = 0; d < D; d++) dot += Qr[(s * H + h) * D + d]! * Kr[(t * KV + kvh) * D + d]!
      scores.push(dot * scale)
      maxScore = Math.max(maxScore, Math.abs(dot * scale))
    }
    const m = Math.max(...scores)
    const e = scores.map((x) => Math.exp(x - m))
    const l = e.reduce((a, x) => a + x, 0)
    LSE[s * H + h] = m + Math.log(l)
    for (let d = 0; d < D; d++) {
      let acc = 0
      let un = 0
      scores.forEach((x, t) => {
        acc += e[t]! * Vr[(t * KV + kvh) * D + d]!
        un += Math.exp(x) * Vr[(t * KV + kvh) * D + d]!
      })
      O[(s * H + h) * D + d] = acc / l
      U[(s * H + h) * D + d] = un
    }
  }
  return { Q: Qr, K: Kr, V: Vr, scale, O, U, LSE, maxScore }
}

/** One exact, unique edit of generated WGSL (throws where the anchor is missing or ambiguous, so that a changed generator cannot make a variant silently the same as its parent). */
const edit = (code: string, from: string, to: string, count = 1): string => {
  const n = code.split(from).length - 1
  if (n !== count) throw new Error(`probe edit: expected ${count} occurrence(s) of ${JSON.stringify(from.slice(0, 80))}, found ${n}`)
  return code.replaceAll(from, to)
}

const DBG_BINDING = "\n@group(0) @binding(6) var<storage, read_write> DBG: array<f32>;"
const DBG_BLOCK = 2048 // floats a block's dump takes
const DBG_END = 2 * DBG_BLOCK // where the end-of-kernel dump starts (O tile 16 × D, then Al[16])

/** Session 5's one-pass form (q16, 32-key blocks, pad 4) and its variants; the two-pass kernel and its variants. */
const tcVariant = (name: string, D: number): string => {
  const R = 16
  const SS = 36
  const PS = 40
  if (name.startsWith("two-pass") || name.startsWith("tp-")) {
    let w = attentionTcWgsl(D, TWO_PASS_ATTENTION_TC, true)
    if (name === "tp-1") {
      w = edit(w, "  for (var k0 = 0u; k0 < last; k0 += 32u) {", "  for (var k0 = 0u; k0 < select(last, 0u, true); k0 += 32u) {", 2).replace("k0 < select(last, 0u, true)", "k0 < 0u").replaceAll("k0 < select(last, 0u, true)", "k0 < last")
      w = edit(w, "  let mr = max(m, mo);", "  let mr = 0.0;")
      w = edit(w, "  let lr = max(l * exp(m - mr) + lo * exp(mo - mr), 1e-30);", "  let lr = 1.0;")
      return w
    }
    if (name.startsWith("tp-")) {
      w = edit(w, `var<workgroup> Os: array<f32, ${R * D}>;`, `var<workgroup> Os: array<f32, ${R * D}>;\nvar<workgroup> Al: array<f32, ${R}>;`)
      const al = name.startsWith("tp-un") ? "lr" : "1.0"
      w = edit(w, `\n  workgroupBarrier();\n  for (var i = 0u;`, `\n  if (lane % 2u == 0u) { Al[row] = ${al}; }\n  workgroupBarrier();\n  for (var i = 0u;`)
      w = edit(w, `= f16(Os[e]); }`, `= f16(Os[e] / Al[e / ${D}u]); }`)
      if (name.startsWith("tp-un")) w = edit(w, `* p.scale - mr) / lr, keep)`, `* p.scale - mr), keep)`)
    }
    return w
  }
  let w = attentionTcWgsl(D, ONE_PASS_ATTENTION_TC, true)
  const parts = name.replace(/-dbg$/, "").split("-")[1] ?? ""
  if (parts.includes("a")) {
    w = edit(w, "  var m = -3.0e38; // the row's running max", "  var m = 0.0; // probe: fixed")
    w = edit(w, "    if (mb > m + 8.0) { grow = 1u; }\n", "")
  }
  if (parts.includes("b")) w = edit(w, "let raise = workgroupUniformLoad(&grow) != 0u;", "let raise = true;")
  if (parts.includes("c")) w = edit(w, "      if (k0 > 0u) { // before the first block O is all zeros", "      if (false) {")
  if (parts.includes("n")) w = edit(w, `f16(Os[e] / Al[e / ${D}u])`, "f16(Os[e])")
  if (name.startsWith("s5-old")) {
    // session 5's declaration order (the fragments' arrays Ss, Ps, Os first, the lanes' Al, Hx, grow after): wrong on the H100 in session 7's round 1
    const small = `var<workgroup> Al: array<f32, ${R}>; // each row's rescale factor, then its sum\nvar<workgroup> Hx: array<f32, 32>; // each lane's half-row max, then its half sum (the two lanes of a row meet here)\nvar<workgroup> grow: u32; // a row's max rose past the slack in this block\n`
    const big = `var<workgroup> Os: array<f32, ${R * D}>;\nvar<workgroup> Ps: array<f16, ${R * PS}>;\nvar<workgroup> Ss: array<f32, ${R * SS}>;\n`
    w = edit(w, small + big, `var<workgroup> Ss: array<f32, ${R * SS}>;\nvar<workgroup> Ps: array<f16, ${R * PS}>;\nvar<workgroup> Os: array<f32, ${R * D}>;\n${small}`)
  }
  if (name.startsWith("s5-sh")) {
    w = edit(w, "    Hx[lane] = mb;\n    workgroupBarrier();\n    mb = max(mb, Hx[lane ^ 1u]);\n", "    mb = max(mb, subgroupShuffleXor(mb, 1u));\n")
    w = edit(w, "  Hx[lane] = l;\n  workgroupBarrier();\n  let lr = max(l + Hx[lane ^ 1u], 1e-30);", "  let lr = max(l + subgroupShuffleXor(l, 1u), 1e-30);")
  }
  if (name.endsWith("-dbg")) {
    w = edit(w, "\n@group(0) @binding(5) var<storage, read_write> LSE: array<f32>;", `\n@group(0) @binding(5) var<storage, read_write> LSE: array<f32>;${DBG_BINDING}`)
    w = edit(w, `      Ps[row * ${PS}u + first + j] = f16(pr);\n    }\n    workgroupBarrier();\n`, `      Ps[row * ${PS}u + first + j] = f16(pr);\n    }\n    workgroupBarrier();
    if (wg.x == 0u && wg.y == 0u && k0 < 64u) {
      let base = (k0 / 32u) * ${DBG_BLOCK}u;
      DBG[base + lane * 2u] = m;
      DBG[base + lane * 2u + 1u] = l;
      for (var i = 0u; i < 16u; i++) {
        let e = lane + i * 32u;
        DBG[base + 64u + e] = f32(Ps[(e / 32u) * ${PS}u + e % 32u]);
        DBG[base + 576u + e] = Ss[(e / 32u) * ${SS}u + e % 32u] * p.scale;
      }
    }
`)
    w = edit(w, `\n  workgroupBarrier();\n  for (var i = 0u; i < ${(R * D) / 32}u; i++) {`, `\n  workgroupBarrier();
  if (wg.x == 0u && wg.y == 0u) {
    for (var i = 0u; i < ${(R * D) / 32}u; i++) { DBG[${DBG_END}u + lane + i * 32u] = Os[lane + i * 32u]; }
    if (lane < 16u) { DBG[${DBG_END + R * D}u + lane] = Al[lane]; }
  }
  for (var i = 0u; i < ${(R * D) / 32}u; i++) {`)
  }
  return w
}

const FLASH: Record<string, FlashAttentionVariant> = {
  flash: DEFAULT_FLASH_ATTENTION,
  "flash-la": { ...DEFAULT_FLASH_ATTENTION, accumulate: "lanes" },
  "flash-la-a": { ...DEFAULT_FLASH_ATTENTION, accumulate: "lanes" },
  "flash-q16h1": { ...DEFAULT_FLASH_ATTENTION, queries: 16, heads: 1 },
  "flash-q16h1-always": { ...DEFAULT_FLASH_ATTENTION, queries: 16, heads: 1, rescale: "always" }
}

const flashVariant = (name: string, D: number): string => {
  const v = FLASH[name.replace(/-dbg$/, "")]!
  let w = flashAttentionWgsl(D, v, true)
  if (/^flash-la-a(-dbg)?$/.test(name)) {
    // m fixed at 0: P = 2^(c·s), no running max, nothing rescaled
    w = edit(w, "  var m = -3.0e38; // the row's running max", "  var m = 0.0; // probe: fixed")
    w = edit(w, "    let mn = max(m, mb);\n    let alpha = exp2(m - mn);\n    m = mn;\n    l = l * alpha;\n", "    let alpha = 1.0;\n")
  }
  if (name.endsWith("-dbg")) {
    // the first subgroup's rows (query block 0 of the first head group: wg.y = nwg.y − 1), two blocks
    const PST = v.keyBlock + 8
    const SST = v.keyBlock + 4
    w = edit(w, "\n@group(0) @binding(5) var<storage, read_write> LSE: array<f32>;", `\n@group(0) @binding(5) var<storage, read_write> LSE: array<f32>;${DBG_BINDING}`)
    w = edit(w, "    if (half == 0u) { Al[sg * 16u + row] = alpha; }\n    workgroupBarrier();\n", `    if (half == 0u) { Al[sg * 16u + row] = alpha; }\n    workgroupBarrier();
    if (wg.x == 0u && wg.y == nwg.y - 1u && sg == 0u && k0 < ${2 * v.keyBlock}u) {
      let base = (k0 / ${v.keyBlock}u) * ${DBG_BLOCK}u;
      DBG[base + lane * 2u] = m;
      DBG[base + lane * 2u + 1u] = l;
      for (var i = 0u; i < ${(16 * v.keyBlock) / 32}u; i++) {
        let e = lane + i * 32u;
        DBG[base + 64u + e] = f32(Ps[(e / ${v.keyBlock}u) * ${PST}u + e % ${v.keyBlock}u]);
        DBG[base + 576u + e] = Ss[(e / ${v.keyBlock}u) * ${SST}u + e % ${v.keyBlock}u] * p.scale;
      }
    }
`)
  }
  return w
}

const KERNELS: ReadonlyArray<string> = [
  "two-pass", "tp-1", "tp-al", "tp-un", "s5", "s5-a", "s5-b", "s5-c", "s5-ac", "s5-acn", "s5-bc", "s5-sh", "s5-old", "s5-dbg", "s5-ac-dbg",
  "flash", "flash-la", "flash-la-a", "flash-q16h1", "flash-q16h1-always", "flash-dbg", "flash-la-dbg"
]
const isFlash = (k: string) => k.startsWith("flash")
/** What a kernel's output must equal: the softmax, or (s5-acn) Σ exp(s)·V; fixed-max forms only where exp(score) fits f16. */
const expects = (k: string): "softmax" | "unnormalised" => (k.startsWith("s5-acn") || k === "tp-1" ? "unnormalised" : "softmax")
/** Forms right only where one 32-key block holds every key a row sees. */
const oneBlockOnly = (k: string) => k.startsWith("s5-bc") || k.startsWith("s5-c")
const fixedMax = (k: string) => /^s5-[^-]*a/.test(k) || k === "tp-1" || k.startsWith("flash-la-a")

const SENTINEL = -1999 // exact in f16; an output still holding it was never written
const LSE_SENTINEL = -777.5

interface Run { readonly O: Float32Array; readonly LSE: Float32Array; readonly DBG?: Float32Array; readonly errors: ReadonlyArray<string> }

const main = async () => {
  if (argv.includes("--print")) {
    // one variant's WGSL: --print NAME D
    const [name, D] = [argv[argv.indexOf("--print") + 1]!, Number(argv[argv.indexOf("--print") + 2] ?? 128)]
    console.log((isFlash(name) ? flashVariant : tcVariant)(name, D))
    return
  }
  if (argv.includes("--check-wgsl")) {
    // generation only (no GPU): every variant's edits find their anchors
    for (const kernel of KERNELS) for (const D of [16, 128]) (isFlash(kernel) ? flashVariant : tcVariant)(kernel, D)
    console.log(`probe: ${KERNELS.length} kernels generate at D 16 and 128`)
    return
  }
  const passes: Array<{ robustness: "on" | "off"; toggles: Array<string> }> = [{ robustness: "on", toggles: [...DAWN_TOGGLES] }]
  if (!argv.includes("--no-robustness-off")) passes.push({ robustness: "off", toggles: [DAWN_TOGGLES[0]!.includes("disable_robustness") ? DAWN_TOGGLES[0]! : `${DAWN_TOGGLES[0]!},disable_robustness`, ...DAWN_TOGGLES.slice(1)] })
  const summary: Array<string> = []
  for (const pass of passes) {
    const opened = await openGpu({ toggles: pass.toggles })
    if (opened._tag !== "Ready") {
      console.log(`probe: no GPU (${opened.reason})`)
      return
    }
    const gpu: Gpu = opened.gpu
    const emulated = !pickMatrixConfig(gpu)
    if (emulated && pass.robustness === "off") {
      gpu.close()
      continue
    }
    console.log(`== robustness ${pass.robustness}: ${gpu.adapter.vendor} ${gpu.adapter.architecture} ${gpu.adapter.description}; matrices ${JSON.stringify(gpu.subgroupMatrixConfigs.map((c) => `${c.componentType}>${c.resultComponentType} ${c.M}x${c.N}x${c.K}`))}; subgroups ${JSON.stringify(gpu.subgroupSizes)}${emulated ? "; fragments EMULATED in f32 (no tensor cores here)" : ""}`)
    const device = gpu.device
    device.onuncapturederror = (e) => console.log(`  uncaptured error: ${e.error.message.split("\n")[0]}`)
    void device.lost.then((l) => l.reason !== "destroyed" && console.log(`  DEVICE LOST: ${l.reason} ${l.message}`))
    const compiled = new Map<string, { pipeline?: GPUComputePipeline; errors: Array<string>; messages: Array<string> }>()
    const compile = async (kernel: string, D: number) => {
      const key = `${kernel}/${D}`
      const hit = compiled.get(key)
      if (hit) return hit
      const errors: Array<string> = []
      const messages: Array<string> = []
      let pipeline: GPUComputePipeline | undefined
      try {
        let code = isFlash(kernel) ? flashVariant(kernel, D) : tcVariant(kernel, D)
        if (emulated) {
          // the emulation rewrites fragments only; the shuffles stay subgroup builtins (SwiftShader has subgroups)
          code = emulateSubgroupMatrices(code.replace("var<storage, read_write> O: array<f16>;", "var<storage, read_write> O: array<f32>;").replaceAll("subgroupShuffleXor(", "probeShuffleXor("), 16)
          code = `enable subgroups;\n${code.replaceAll("probeShuffleXor(", "subgroupShuffleXor(")}`
        }
        for (const f of ["validation", "internal", "out-of-memory"] as const) device.pushErrorScope(f)
        const module = device.createShaderModule({ code, label: key })
        const info = await module.getCompilationInfo()
        for (const m of info.messages) if (!/subgroup_matrix_uniformity|chromium_experimental/.test(m.message)) messages.push(`${m.type} line ${m.lineNum}: ${m.message.split("\n")[0]}`)
        pipeline = device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" }, label: key })
        for (const f of ["out-of-memory", "internal", "validation"]) {
          const e = await device.popErrorScope()
          if (e) errors.push(`${f} at creation: ${e.message.split("\n").slice(0, 3).join(" | ")}`)
        }
      } catch (e) {
        errors.push(`creation threw: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`)
      }
      const out = { ...(pipeline && errors.length === 0 ? { pipeline } : {}), errors, messages }
      compiled.set(key, out)
      return out
    }

    const run = async (kernel: string, c: Case, data: ReturnType<typeof prepare>, pipeline: GPUComputePipeline): Promise<Run> => {
      const { S, T, H, KV, D } = c
      const n = S * H * D
      const f32Out = emulated && !isFlash(kernel) // the emulated one-subgroup forms write O as f32 (SwiftShader has no f16)
      const O = f32Out ? storageBuffer(device, new Float32Array(n).fill(SENTINEL)) : storageBuffer(device, new Uint16Array(n).fill(f32ToF16Bits(SENTINEL)))
      const LSE = storageBuffer(device, new Float32Array(S * H).fill(LSE_SENTINEL))
      const DBG = storageBuffer(device, new Float32Array(DBG_END + 16 * D + 16).fill(NaN))
      const params = uniformBuffer(device, [1, S, T, H, KV, 0, 0, 0], [data.scale])
      const made = [O, LSE, DBG, params, storageBuffer(device, toF16(data.Q)), storageBuffer(device, toF16(data.K)), storageBuffer(device, toF16(data.V))]
      const entries = [made[4]!, made[5]!, made[6]!, O, params, LSE, ...(kernel.endsWith("-dbg") ? [DBG] : [])]
      const errors: Array<string> = []
      for (const f of ["validation", "internal", "out-of-memory"] as const) device.pushErrorScope(f)
      const bind = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: entries.map((buffer, binding) => ({ binding, resource: { buffer } })) })
      const enc = device.createCommandEncoder()
      const p = enc.beginComputePass()
      p.setPipeline(pipeline)
      p.setBindGroup(0, bind)
      if (isFlash(kernel)) {
        const v = FLASH[kernel.replace(/-dbg$/, "")]!
        p.dispatchWorkgroups(H / v.heads, Math.ceil(S / v.queries))
      } else p.dispatchWorkgroups(S / 16, H)
      p.end()
      device.queue.submit([enc.finish()])
      await device.queue.onSubmittedWorkDone()
      for (const f of ["out-of-memory", "internal", "validation"]) {
        const e = await device.popErrorScope()
        if (e) errors.push(`${f} at dispatch: ${e.message.split("\n").slice(0, 3).join(" | ")}`)
      }
      const o = f32Out ? new Float32Array(await readBuffer(device, O, n * 4)) : Float32Array.from(new Uint16Array(await readBuffer(device, O, n * 2)), f16BitsToF32)
      const lse = new Float32Array(await readBuffer(device, LSE, S * H * 4))
      const dbg = kernel.endsWith("-dbg") ? new Float32Array(await readBuffer(device, DBG, (DBG_END + 16 * D + 16) * 4)) : undefined
      for (const b of made) b.destroy()
      return { O: o, LSE: lse, ...(dbg ? { DBG: dbg } : {}), errors }
    }

    const fmt = (x: number) => (Number.isInteger(x) && Math.abs(x) < 1e5 ? String(x) : Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(2) : x.toFixed(3))
    const row = (a: ArrayLike<number>, at: number, k = 8) => `[${Array.from({ length: k }, (_, i) => fmt(a[at + i]!)).join(" ")}]`

    for (const kernel of KERNELS) {
      if (only && !only.has(kernel)) continue
      let printedRows = 0
      for (const c of CASES) {
        if (isFlash(kernel)) {
          const v = FLASH[kernel.replace(/-dbg$/, "")]!
          if (!flashAttentionValid(v, c.D) || c.H % v.heads !== 0 || (c.H / c.KV) % v.heads !== 0) continue
        }
        // SwiftShader's JIT aborts the process on the emulated fragments at head_dim 128 ("Local variable exceeds stack size limit")
        if (emulated && c.D > 32) continue
        const data = prepare(c)
        if (fixedMax(kernel) && data.maxScore > 9) {
          console.log(`${pass.robustness} ${kernel.padEnd(18)} ${c.name.padEnd(18)} n/a (fixed max needs |score| <= 9, here ${data.maxScore.toFixed(1)})`)
          continue
        }
        if (oneBlockOnly(kernel) && !fixedMax(kernel) && c.T > 32) {
          console.log(`${pass.robustness} ${kernel.padEnd(18)} ${c.name.padEnd(18)} n/a (right only where one block holds every key)`)
          continue
        }
        const k = await compile(kernel, c.D)
        const tag = `${pass.robustness} ${kernel.padEnd(18)} ${c.name.padEnd(18)}`
        if (!k.pipeline) {
          console.log(`${tag} NOT BUILT: ${k.errors.join("; ")}${k.messages.length ? `; compiler: ${k.messages.slice(0, 3).join("; ")}` : ""}`)
          summary.push(`${pass.robustness} ${kernel} ${c.name}: not built`)
          continue
        }
        const first = await run(kernel, c, data, k.pipeline)
        const second = await run(kernel, c, data, k.pipeline)
        const want = expects(kernel) === "unnormalised" ? data.U : data.O
        let maxErr = 0, top = 0, sentinel = 0, nan = 0, lseErr = 0, lseSentinel = 0, same = true
        for (let i = 0; i < want.length; i++) {
          const g = first.O[i]!
          if (g === SENTINEL) sentinel++
          if (Number.isNaN(g)) nan++
          maxErr = Math.max(maxErr, Number.isNaN(g) ? Infinity : Math.abs(g - want[i]!))
          top = Math.max(top, Math.abs(want[i]!))
          if (!Object.is(g, second.O[i]!)) same = false
        }
        for (let i = 0; i < data.LSE.length; i++) {
          if (first.LSE[i] === LSE_SENTINEL) lseSentinel++
          lseErr = Math.max(lseErr, Number.isNaN(first.LSE[i]!) ? Infinity : Math.abs(first.LSE[i]! - data.LSE[i]!))
        }
        const tol = 5e-3 * Math.max(1, top)
        const ok = maxErr <= tol && (expects(kernel) === "unnormalised" || lseErr < 2e-3 || fixedMax(kernel))
        console.log(`${tag} ${ok ? "ok  " : "BAD "} max|Δ| ${fmt(maxErr)} (of ${fmt(top)}) sentinel ${sentinel} nan ${nan} lse ${fmt(lseErr)}${lseSentinel ? ` (lse sentinel ${lseSentinel})` : ""} ${same ? "deterministic" : "RUNS DIFFER"}${[...k.errors, ...first.errors].length ? ` errors: ${[...k.errors, ...first.errors].join("; ")}` : ""}${k.messages.length && printedRows === 0 ? ` compiler: ${k.messages.slice(0, 2).join("; ")}` : ""}`)
        summary.push(`${pass.robustness} ${kernel} ${c.name}: ${ok ? "ok" : "BAD"}`)
        const showRows = pass.robustness === "on" && (allRows || (!ok && printedRows < 2) || kernel.endsWith("-dbg"))
        if (showRows) {
          printedRows++
          const { S, H, D } = c
          for (const s of [0, 1, 2, S - 1]) for (const h of H > 1 ? [0, H - 1] : [0]) {
            const at = (s * H + h) * D
            console.log(`    s ${s} h ${h}: got ${row(first.O, at)} want ${row(want, at)}${D > 8 ? ` | d ${D - 4}..: got ${row(first.O, at + D - 4, 4)} want ${row(want, at + D - 4, 4)}` : ""}; lse ${fmt(first.LSE[s * H + h]!)} want ${fmt(data.LSE[s * H + h]!)}`)
          }
        }
        if (first.DBG && pass.robustness === "on" && c.name !== "rand-d128-grow") {
          const g = first.DBG
          const D = c.D
          for (const blk of [0, 1]) {
            const base = blk * DBG_BLOCK
            if (Number.isNaN(g[base]!)) continue
            console.log(`    dbg block ${blk}: m,l lanes 0-3 ${row(g, base, 8)}; P row 0 ${row(g, base + 64, 8)} row 1 ${row(g, base + 64 + 32, 8)} row 15 ${row(g, base + 64 + 15 * 32, 8)}; scaled S row 0 ${row(g, base + 576, 4)} row 1 ${row(g, base + 576 + 32, 4)}`)
          }
          if (!isFlash(kernel)) {
            // one block holds every key (T <= 32, one head): the O tile must be the dumped P times V
            const pv = c.T <= 32 && c.H === 1 ? [0, 1].map((r) => Array.from({ length: 8 }, (_, d) => Array.from({ length: c.T }, (_, t) => g[64 + r * 32 + t]! * data.V[t * D + d]!).reduce((a, x) => a + x, 0))) : undefined
            console.log(`    dbg end: O tile before /l row 0 ${row(g, DBG_END, 8)} row 1 ${row(g, DBG_END + D, 8)}; Al[0..7] ${row(g, DBG_END + 16 * D, 8)}${pv ? `; dumped P · V row 0 ${row(pv[0]!, 0)} row 1 ${row(pv[1]!, 0)}` : ""}`)
          }
        }
      }
    }
    gpu.close()
  }
  const bad = summary.filter((s) => !s.endsWith(": ok"))
  console.log(`== summary: ${summary.length - bad.length} ok, ${bad.length} bad or not built${bad.length ? `: ${bad.join(" · ")}` : ""}`)
}

await main()
