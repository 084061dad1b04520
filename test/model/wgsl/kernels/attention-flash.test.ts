import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { f16BitsToF32, readBuffer, roundF16, runDispatches, storageBuffer, toF16, uniformBuffer } from "../../../../model/wgsl/kernels/buffers.ts"
import { pickMatrixConfig } from "../../../../model/wgsl/kernels/device.ts"
import { flashAttention, flashAttentionName, flashAttentionSharedBytes, flashAttentionValid, flashAttentionWgsl, type FlashAttentionVariant } from "../../../../model/wgsl/kernels/attention-flash.ts"
import { attentionFormName, AUTO_ATTENTION_CANDIDATES, DEFAULT_ATTENTION_TC, defaultAttentionForm, ONE_PASS_ATTENTION_TC, pickAttentionForm, tensorCoreAttention, UNROLLED_SAFE_FLASH_ATTENTION, type AttentionTcVariant } from "../../../../model/wgsl/kernels/attention-tc.ts"
import { DEFAULT_FLASH_ATTENTION, flashAttentionOneHead, parseFlashAttentionName, UNROLLED_FLASH_ATTENTION } from "../../../../model/wgsl/kernels/attention-flash.ts"
import { attentionRef } from "../../../helpers/kernels/reference.ts"
import { emulateSubgroupMatrices } from "../../../helpers/kernels/subgroup-matrix-emulation.ts"
import { openTestGpu } from "../../../helpers/gpu.ts"
import { random, relErr } from "../../../helpers/numeric.ts"

// The one-pass multi-subgroup attention forward (attention-flash.ts) against the CPU reference:
// O on f16-rounded inputs and, compiled with it, the LSE. On an adapter with f16 subgroup matrices
// as generated (every variant); elsewhere (SwiftShader) with the fragments emulated in f32, small
// head_dim and few variants (SwiftShader's 32 KB of workgroup memory, and its speed).
// "keys growing" scales key t by 1 + t/2, so that later blocks hold larger row maxima: the running
// max is raised mid-row and O makes its round trip (the path session 5's one-pass form got wrong).

describe("the forward attention's default form (FLEUVE_ATTENTION_FORWARD)", () => {
  const withEnv = <T>(value: string | undefined, f: () => T): T => {
    const before = process.env.FLEUVE_ATTENTION_FORWARD
    if (value === undefined) delete process.env.FLEUVE_ATTENTION_FORWARD
    else process.env.FLEUVE_ATTENTION_FORWARD = value
    try {
      return f()
    } finally {
      if (before === undefined) delete process.env.FLEUVE_ATTENTION_FORWARD
      else process.env.FLEUVE_ATTENTION_FORWARD = before
    }
  }
  it("is the probe's pick unset or =auto, the two-pass kernel =two-pass, the flash kernel =flash, a named flash variant =flash:<name>", () => {
    assert.equal(withEnv(undefined, defaultAttentionForm), "auto")
    assert.deepEqual(withEnv("two-pass", defaultAttentionForm), DEFAULT_ATTENTION_TC)
    assert.deepEqual(withEnv("flash", defaultAttentionForm), DEFAULT_FLASH_ATTENTION)
    assert.deepEqual(withEnv("flash:q64-h1-k32-ri-pf-la", defaultAttentionForm), { form: "flash", queries: 64, heads: 1, keyBlock: 32, reload: "identity", prefetch: true, accumulate: "lanes" })
    assert.equal(withEnv("auto", defaultAttentionForm), "auto")
  })
  it("names every variant so that the name parses back to it", () => {
    for (const v of [DEFAULT_FLASH_ATTENTION, UNROLLED_FLASH_ATTENTION, { ...DEFAULT_FLASH_ATTENTION, reload: "result", rescale: "always", prefetch: true, shuffle: true, accumulate: "lanes" } as const, ...SESSION8_VARIANTS.map((n) => parseFlashAttentionName(n)!)])
      assert.deepEqual(parseFlashAttentionName(flashAttentionName(v)), v)
    for (const n of SESSION8_VARIANTS) assert.equal(flashAttentionName(parseFlashAttentionName(n)!), `attention-flash-${n}`)
    assert.deepEqual(parseFlashAttentionName("q32-h2-k32-ri-n-u-il-qs-ws"), { form: "flash", queries: 32, heads: 2, keyBlock: 32, reload: "identity", stage: "words", unroll: true, interleave: true, qShared: true, sync: "subgroup" })
    // the flags in their order only
    assert.equal(parseFlashAttentionName("q32-h2-k32-ri-ws-u"), undefined)
  })
  it("takes Q rows past twice the key block only with Q in its own tile; refuses word staging with the prefetch, in-step subgroups with O in the lanes, two tiles without subgroups in step or with the prefetch", () => {
    assert.equal(flashAttentionValid(parseFlashAttentionName("q64-h2-k32-ri")!), false)
    assert.equal(flashAttentionValid(parseFlashAttentionName("q64-h2-k32-ri-qs")!), true)
    assert.equal(flashAttentionValid(parseFlashAttentionName("q32-h2-k32-ri-pf-n")!), false)
    assert.equal(flashAttentionValid(parseFlashAttentionName("q32-h2-k32-ri-la-ws")!), false)
    assert.equal(flashAttentionValid(parseFlashAttentionName("q16-h2-k32-ri-db")!), false)
    assert.equal(flashAttentionValid(parseFlashAttentionName("q16-h2-k32-ri-pf-db-ws")!), false)
    assert.equal(flashAttentionValid(parseFlashAttentionName("q32-h2-k32-ri-pf-uk")!), false)
    assert.equal(flashAttentionValid(parseFlashAttentionName("q32-h2-k32-ri-n-uk")!), false)
    for (const n of SESSION8_VARIANTS) assert.ok(flashAttentionValid(parseFlashAttentionName(n)!) && flashAttentionSharedBytes(parseFlashAttentionName(n)!, 128) <= 48 * 1024, n)
  })
  it("keeps session 8's fastest variant opt-in: named, valid, not among auto's candidates, none of which relies on lanes running in step", () => {
    assert.equal(flashAttentionName(UNROLLED_FLASH_ATTENTION), "attention-flash-q32-h2-k32-ri-pf-u-il-ws")
    assert.ok(flashAttentionValid(UNROLLED_FLASH_ATTENTION))
    assert.deepEqual(withEnv("flash:q32-h2-k32-ri-pf-u-il-ws", defaultAttentionForm), UNROLLED_FLASH_ATTENTION)
    assert.deepEqual(AUTO_ATTENTION_CANDIDATES.map(flashAttentionName), ["attention-flash-q32-h2-k32-ri-pf-u-uo-il", "attention-flash-q32-h2-k32-ri-u-uo-il", "attention-flash-q32-h2-k32-ri", "attention-flash-q32-h2-k32-ri-la"])
    assert.deepEqual(AUTO_ATTENTION_CANDIDATES[0], UNROLLED_SAFE_FLASH_ATTENTION)
    for (const c of AUTO_ATTENTION_CANDIDATES) assert.ok(c.sync !== "subgroup" && flashAttentionValid(c) && flashAttentionValid(flashAttentionOneHead(c)), flashAttentionName(c))
  })
  it("unrolls the loops over O with -uo only: the same WGSL otherwise, 32 lanes a step without a loop with it", () => {
    const rolled = flashAttentionWgsl(128, parseFlashAttentionName("q32-h2-k32-ri-u-il")!)
    const unrolled = flashAttentionWgsl(128, parseFlashAttentionName("q32-h2-k32-ri-u-uo-il")!)
    assert.equal((rolled.match(/for \(var i = lane;/g) ?? []).length, 2 * 4) // 4 passes of 2 O fragments: the rescale's and the output's
    assert.equal((unrolled.match(/for \(var i = lane;/g) ?? []).length, 0)
    assert.equal((unrolled.match(/let i15 = lane \+ 480u;/g) ?? []).length, 4) // the rescale: 512 items a pass
    assert.equal((unrolled.match(/let i7 = lane \+ 224u;/g) ?? []).length, 8) // both: the output's 256 items a pass end at i7
  })
  it("takes one query head a workgroup where a kv head has an odd number, dropping the prefetch where its units no longer fit", () => {
    assert.equal(flashAttentionName(flashAttentionOneHead(parseFlashAttentionName("q32-h2-k32-ri-pf-u-il-ws")!)), "attention-flash-q32-h1-k32-ri-u-il-ws")
    assert.equal(flashAttentionName(flashAttentionOneHead(parseFlashAttentionName("q32-h2-k32-ri-u-uk")!)), "attention-flash-q32-h1-k32-ri-u-uk")
    assert.ok(flashAttentionValid(flashAttentionOneHead(UNROLLED_FLASH_ATTENTION)))
  })
  it("refuses any other value, naming the ones it takes", () => {
    assert.throws(() => withEnv("fast", defaultAttentionForm), /FLEUVE_ATTENTION_FORWARD=fast: expected "two-pass", "flash", "flash:<variant>"/)
    assert.throws(() => withEnv("flash:q33-h1-k32-ri", defaultAttentionForm), /FLEUVE_ATTENTION_FORWARD=flash:q33-h1-k32-ri: expected/)
  })
})

/**
 * Session 8's variants (word staging, unrolled softmax, interleaved scores, Q in workgroup memory,
 * subgroups in step, two K/V tiles), each checked on the card; all within the H100's 48 KB of workgroup memory
 * (Vulkan's limit there), which keeps Q's own tile to two subgroups a workgroup at D 128.
 */
const SESSION8_VARIANTS = [
  "q32-h2-k32-ri-n", "q32-h2-k32-ri-u", "q32-h2-k32-ri-il", "q32-h2-k32-ri-ws", "q32-h2-k32-ri-u-il", "q32-h2-k32-ri-u-ws", "q32-h2-k32-ri-u-il-ws", "q32-h2-k32-ri-n-u-il-ws",
  "q32-h2-k32-rr-n-u-il-ws", "q32-h2-k32-ri-pf-u-il-ws", "q32-h1-k32-ri-u-il-ws", "q16-h2-k32-ri-u-ws", "q16-h2-k32-ri-qs", "q16-h2-k32-ri-u-qs-ws", "q16-h2-k32-ri-n-u-il-qs-ws",
  "q16-h2-k64-rr-u-il-ws", "q32-h2-k16-ri-n-u-il-qs-db-ws", "q32-h2-k16-rr-u-qs-db-ws", "q16-h2-k32-ri-n-u-il-db-ws", "q16-h2-k32-ri-u-db-ws",
  // round 2: the unrolled staging, and round 1's best (q32-h2-k32-ri-pf-u-il-ws) less one option at a time
  "q32-h2-k32-ri-u-uk", "q32-h2-k32-ri-u-uk-il-ws", "q16-h2-k32-ri-u-uk-qs-ws", "q16-h2-k32-ri-u-uk-db-ws", "q16-h2-k32-ri-u-uk-il-db-ws", "q32-h2-k16-ri-u-uk-il-qs-db-ws",
  "q32-h2-k32-ri-pf-u", "q32-h2-k32-ri-pf-u-il", "q32-h2-k32-ri-pf-u-ws",
  // session 9: the loops over O unrolled too (-uo), auto's first candidates among them
  "q32-h2-k32-ri-pf-u-uo-il", "q32-h2-k32-ri-u-uo-il", "q32-h2-k32-ri-u-uo", "q32-h2-k32-ri-pf-u-uo-il-ws", "q32-h2-k32-rr-u-uo-il"
]

const opened = await openTestGpu()

interface Case { readonly B: number; readonly S: number; readonly T: number; readonly H: number; readonly KV: number; readonly D: number; readonly spread?: number; readonly growing?: boolean }
const caseName = (c: Case) => `B=${c.B} S=${c.S} T=${c.T} (cache ${c.T - c.S}) H=${c.H} KV=${c.KV} D=${c.D}${c.spread ? ` spread ×${c.spread}` : ""}${c.growing ? " keys growing" : ""}`

/** f16-rounded inputs of a case and the reference output. */
const inputs = (c: Case, seed: number) => {
  const Q = roundF16(random(c.B * c.S * c.H * c.D, seed, c.spread ?? 1))
  const K = random(c.B * c.T * c.KV * c.D, seed + 1)
  if (c.growing) for (let i = 0; i < K.length; i++) K[i]! *= 1 + Math.floor(i / (c.KV * c.D)) % c.T / 2
  const Kc = roundF16(K)
  const V = roundF16(random(c.B * c.T * c.KV * c.D, seed + 2))
  return { Q, K: Kc, V, want: attentionRef(Q, Kc, V, c.B, c.S, c.T, c.H, c.KV, c.D, 1 / Math.sqrt(c.D)) }
}

/** Where two outputs differ, row by row: the worst rows with |got|/|want| (a row off by its sum shows as ~l). */
const whereItDiverges = (got: Float32Array, want: Float32Array, c: Case, tol: number): string => {
  const bad: Array<string> = []
  let badRows = 0
  for (let b = 0; b < c.B; b++) for (let s = 0; s < c.S; s++) for (let h = 0; h < c.H; h++) {
    const at = ((b * c.S + s) * c.H + h) * c.D
    let err = 0, ng = 0, nw = 0
    for (let d = 0; d < c.D; d++) {
      err = Math.max(err, Math.abs(got[at + d]! - want[at + d]!))
      ng += got[at + d]! ** 2
      nw += want[at + d]! ** 2
    }
    if (err > tol) {
      badRows++
      if (bad.length < 6) bad.push(`(b ${b}, s ${s}, h ${h}: max |Δ| ${err.toFixed(4)}, |got|/|want| ${(Math.sqrt(ng / nw)).toFixed(3)})`)
    }
  }
  return `${badRows} of ${c.B * c.S * c.H} rows off; first: ${bad.join(" ")}`
}

describe("one-pass flash attention forward (several subgroups a workgroup)", { skip: opened.skip }, () => {
  if (opened.skip !== false) return
  const gpu = opened.gpu
  const device = gpu.device
  after(() => gpu.close())
  const emulated = !pickMatrixConfig(gpu)
  const emulate = emulated ? (w: string) => emulateSubgroupMatrices(w, 16) : undefined
  const readF16 = async (b: GPUBuffer, n: number) => Float32Array.from(new Uint16Array(await readBuffer(device, b, n * 2)), f16BitsToF32)
  const v = (queries: 16 | 32 | 64, heads: 1 | 2, keyBlock: 16 | 32 | 64, reload: "result" | "identity" = "identity", rescale: "lazy" | "always" = "lazy", more: { prefetch?: true; shuffle?: true; accumulate?: "lanes" } = {}): FlashAttentionVariant =>
    ({ form: "flash", queries, heads, keyBlock, reload, ...(rescale === "always" ? { rescale } : {}), ...more })

  const run = async (variant: FlashAttentionVariant | AttentionTcVariant, c: Case, data: ReturnType<typeof inputs>, withLse = false) => {
    const O = storageBuffer(device, data.Q.length * 2)
    const LSE = storageBuffer(device, c.B * c.S * c.H * 4)
    const params = uniformBuffer(device, [c.B, c.S, c.T, c.H, c.KV, 0, 0, 0], [1 / Math.sqrt(c.D)])
    const bufs = { Q: storageBuffer(device, toF16(data.Q)), K: storageBuffer(device, toF16(data.K)), V: storageBuffer(device, toF16(data.V)), O, params, ...(withLse ? { LSE } : {}) }
    const dispatch = "form" in variant
      ? (await flashAttention(gpu, c.D, variant, withLse, emulate))(bufs, c.B, c.S, c.H, c.T, c.KV)
      : (await tensorCoreAttention(gpu, c.D, variant, withLse))(bufs, c.B, c.S, c.H, c.T)
    await runDispatches(device, [dispatch])
    return { O: await readF16(O, data.Q.length), LSE: new Float32Array(await readBuffer(device, LSE, c.B * c.S * c.H * 4)) }
  }

  const cases: ReadonlyArray<Case> = emulated
    ? [{ B: 1, S: 32, T: 48, H: 4, KV: 2, D: 32 }, { B: 1, S: 40, T: 40, H: 2, KV: 1, D: 32 }, { B: 1, S: 64, T: 64, H: 2, KV: 1, D: 32, growing: true }]
    : [
        { B: 2, S: 48, T: 48, H: 4, KV: 2, D: 128 }, { B: 2, S: 64, T: 96, H: 4, KV: 2, D: 128 }, { B: 2, S: 128, T: 128, H: 4, KV: 2, D: 128, spread: 6 },
        { B: 1, S: 128, T: 160, H: 4, KV: 2, D: 128, growing: true }, { B: 1, S: 80, T: 80, H: 16, KV: 8, D: 128 }, { B: 2, S: 40, T: 64, H: 4, KV: 2, D: 64, growing: true }
      ]
  const variants: ReadonlyArray<FlashAttentionVariant> = emulated
    ? [v(16, 2, 16, "identity", "lazy", { prefetch: true }), v(32, 1, 16, "identity", "lazy", { accumulate: "lanes" }), v(16, 1, 32, "result"), // SwiftShader crashes (SIGSEGV) running the emulated identity reload with 32-key blocks
        // session 8's options, emulated with their barriers kept (SwiftShader's lanes do not run in step): the staging, the unrolled softmax, the
        // interleaved scores, two K/V tiles, Q from its own tile (64 Q rows on 16-key blocks, the result reload: the identity one needs more than SwiftShader's 32 KB), the per-block flag
        ...["q16-h2-k16-ri-pf-u-uo-il", "q16-h1-k32-rr-u-uo", "q16-h2-k16-ri-n-u-il-ws", "q32-h2-k16-rr-n-u-il-qs-ws", "q16-h1-k32-rr-n-u-il-qs-ws", "q16-h2-k16-ri-pf-u-ws", "q16-h2-k16-ri-n-u-il-db-ws", "q32-h2-k16-rr-u-qs-db-ws", "q16-h2-k16-ri-u-uk-il-db-ws", "q16-h2-k16-ri-u-uk-ws"].map((n) => parseFlashAttentionName(n)!)]
    : [
        // fragments across blocks (round 1 on the H100: all wrong; now declared right before the key loop)
        v(32, 2, 32), v(64, 1, 32), v(16, 1, 32), v(32, 2, 32, "result"),
        // O in the lanes' registers, a fresh product a block
        ...([[32, 2, 32], [64, 1, 32], [16, 2, 32], [16, 1, 32], [32, 1, 64], [16, 2, 64]] as const).map(([q, h, k]) => v(q, h, k, "identity", "lazy", { accumulate: "lanes" })),
        v(32, 2, 32, "identity", "lazy", { accumulate: "lanes", prefetch: true }),
        ...SESSION8_VARIANTS.map((n) => parseFlashAttentionName(n)!)
      ].filter((x) => flashAttentionValid(x) && flashAttentionSharedBytes(x, 128) <= gpu.device.limits.maxComputeWorkgroupStorageSize)
  const data = cases.map((c, i) => inputs(c, 101 + 10 * i))

  for (const variant of variants) {
    it(`${flashAttentionName(variant)}${emulated ? " (fragments emulated in f32)" : ""} matches the reference on f16-rounded inputs: ${cases.length} shapes (GQA, a KV cache, S not a multiple of the block, large and growing scores)`, async () => {
      const failures: Array<string> = []
      for (const [i, c] of cases.entries()) {
        const { O } = await run(variant, c, data[i]!)
        const err = relErr(O, data[i]!.want)
        if (!(err < 5e-3)) failures.push(`${caseName(c)}: relative error ${err}; ${whereItDiverges(O, data[i]!.want, c, 5e-3)}`)
      }
      assert.deepEqual(failures, [])
    })
  }

  const lseCase: Case = emulated ? { B: 1, S: 32, T: 48, H: 2, KV: 1, D: 32, spread: 4 } : { B: 2, S: 32, T: 48, H: 4, KV: 2, D: 128, spread: 4 }
  for (const variant of emulated ? [v(16, 2, 16), parseFlashAttentionName("q16-h2-k16-ri-n-u-il-qs-ws")!] : [v(32, 2, 32), v(32, 2, 32, "identity", "lazy", { accumulate: "lanes" }), ...["q32-h2-k32-ri-pf-u-il-ws", "q16-h2-k32-ri-n-u-il-qs-ws", "q16-h2-k32-ri-u-uk-db-ws"].map((n) => parseFlashAttentionName(n)!)]) {
    it(`${flashAttentionName(variant)} compiled with LSE writes log Σ exp(scale·q·k) of each query row (${caseName(lseCase)})`, async () => {
      const c = lseCase
      const d = inputs(c, 41)
      const { O, LSE } = await run(variant, c, d, true)
      const want = new Float32Array(c.B * c.S * c.H)
      for (let b = 0; b < c.B; b++) for (let s = 0; s < c.S; s++) for (let h = 0; h < c.H; h++) {
        const kvh = Math.floor(h / (c.H / c.KV))
        const scores: Array<number> = []
        for (let t = 0; t <= c.T - c.S + s; t++) {
          let dot = 0
          for (let e = 0; e < c.D; e++) dot += d.Q[((b * c.S + s) * c.H + h) * c.D + e]! * d.K[((b * c.T + t) * c.KV + kvh) * c.D + e]!
          scores.push(dot / Math.sqrt(c.D))
        }
        const m = Math.max(...scores)
        want[(b * c.S + s) * c.H + h] = m + Math.log(scores.reduce((a, x) => a + Math.exp(x - m), 0))
      }
      let maxAbs = 0
      for (let i = 0; i < want.length; i++) maxAbs = Math.max(maxAbs, Math.abs(LSE[i]! - want[i]!))
      assert.ok(maxAbs < 1e-3, `max |Δ LSE| ${maxAbs}`)
      assert.ok(relErr(O, d.want) < 5e-3, `O: relative error ${relErr(O, d.want)}`)
    })
  }

  if (!emulated) {
    it("auto (pickAttentionForm) takes a flash variant only where it reproduces the two-pass kernel, and its pick matches the reference", async (t) => {
      const form = await pickAttentionForm(gpu, 128, 2)
      t.diagnostic(`auto picked ${attentionFormName(form)}`)
      const c = cases[1]!
      const { O } = await run(form, c, data[1]!)
      assert.ok(relErr(O, data[1]!.want) < 5e-3, `${attentionFormName(form)}: relative error ${relErr(O, data[1]!.want)}`)
    })
  }

  it("refuses two query heads a workgroup where a kv head has an odd number of them", async () => {
    const attention = await flashAttention(gpu, emulated ? 32 : 128, v(16, 2, emulated ? 16 : 32), false, emulate)
    const b = storageBuffer(device, 16)
    assert.throws(() => attention({ Q: b, K: b, V: b, O: b, params: b }, 1, 32, 6, 32, 2), /divide the 3 query heads/)
  })

  // Session 5's one-pass form (attention-tc.ts, ONE_PASS_ATTENTION_TC) was wrong on the H100 and
  // right emulated. FLEUVE_DIAGNOSE_ONE_PASS=1 (device runs): print where it diverges, row by row.
  if (!emulated && process.env.FLEUVE_DIAGNOSE_ONE_PASS === "1") {
    for (const variant of [ONE_PASS_ATTENTION_TC, { queryFragments: 2, keyBlock: 32, pad: 4, onePass: true } as const]) {
      it(`diagnosis (prints, asserts only that it ran): session 5's one-pass form, ${variant.queryFragments * 16} queries a workgroup`, async (t) => {
        for (const [i, c] of cases.entries()) {
          if (c.S % (variant.queryFragments * 16) !== 0 || c.T % 16 !== 0) continue
          const { O } = await run(variant, c, data[i]!)
          t.diagnostic(`one-pass q${variant.queryFragments * 16} ${caseName(c)}: relative error ${relErr(O, data[i]!.want)}; ${whereItDiverges(O, data[i]!.want, c, 5e-3)}`)
        }
      })
    }
  }
})
