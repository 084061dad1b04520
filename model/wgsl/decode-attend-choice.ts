import { readBuffer, runDispatches, seededRandoms, storageBuffer, type Binding, type Dispatch, toF16, uniformBuffer } from "./kernels/buffers.ts"
import { attendPartialBytes, type DecodeAttend, decodeAttendParams, decodeKernelRows, decodeLayerKernels, type DecodeLayerOptions, type DecodeStorage, type GqaLayout, gqaRunsHere } from "./kernels/decode-layer.ts"
import type { Gpu } from "./kernels/device.ts"
import { gpuMsEach } from "./kernels/profile.ts"
import { mismatch, probeTolerance, valuesOf } from "./probe-check.ts"
import type { EngineShape } from "./qwen3-engine.ts"

/**
 * The attention a fused decoder runs where its layout names none, chosen on the device at first
 * use (issue 22 item 4): at 16 rows the attention was the largest kernel of a step (1.53–1.57 of
 * 4.20 ms profiled on an H100, session 16) and which of its forms is fastest (the coalesced kernel,
 * the gqa kernel in one of its layouts, whole or split) depends on the card, the rows and the
 * positions, which one call's timings per session could not settle. So, as the matmul epilogues
 * are (epilogue-choice.ts):
 *
 * 1. every candidate whose kernels run here as written (gqaRunsHere: no fallback) runs once on a
 *    random problem of the decoder's rows at the last of up to CHECK_POSITIONS positions (the
 *    split forms then take two chunks or more), one layer's caches filled with random keys and
 *    values, and must reproduce the reference's (the first candidate, the default) output and
 *    appended key and value within `tolerance`, else it is left out;
 * 2. the others take turns over the decoder's every layer's caches at its last position (GPU
 *    timestamps where the device has them, as a step runs them: the caches from memory, not the
 *    L2 cache), and the fastest wins.
 *
 * Kept per device, kernel rows, shape, storage and positions (rounded up to a power of two): a
 * second decoder of that size pays nothing. FLEUVE_DECODER_ATTEND (or a layout's `attend`) names
 * the attention instead, FLEUVE_DECODER_TUNE=0 keeps the default; FLEUVE_GENERATION_LOG=1 prints
 * each candidate's time and why any was left out.
 */
export interface AttendChoice {
  readonly attend: DecodeAttend
  readonly gqa?: GqaLayout
}

/**
 * The candidates at 5–16 rows, the default (coalesced) first: the split attention (flash-decoding,
 * slower at 16 rows in session 6, before the gqa forms), the gqa kernel in its default layout (8
 * subgroups, a team's lanes' worth of keys a sweep) and with fewer keys a team in more subgroups
 * (session 17's layouts: fewer registers a lane, more warps an SM), whole and split.
 */
export const ATTEND_CANDIDATES: ReadonlyArray<AttendChoice> = [
  { attend: "coalesced" },
  { attend: "split" },
  { attend: "gqa" },
  { attend: "gqa", gqa: { warps: 16, keys: 8 } },
  { attend: "gqa", gqa: { warps: 32, keys: 8 } },
  { attend: "gqa-split" },
  { attend: "gqa-split", gqa: { warps: 8, keys: 8 } }
]

/** Positions of the check's caches at most (the decoder's own where fewer): past a split chunk of 256 keys. */
const CHECK_POSITIONS = 320

/** What a probe found, for benches and logs: each candidate's milliseconds over the layers, or why it was left out. */
export interface AttendDecision {
  readonly key: string
  readonly chosen: AttendChoice
  readonly candidates: ReadonlyArray<AttendChoice & ({ readonly ms: number } | { readonly left: string })>
  /** why the probe itself failed, where it did (the default is then run) */
  readonly failed?: string
}

/** Every probe this process ran (the generation bench prints them). */
export const attendDecisions: Array<AttendDecision> = []

const chosenOn = new WeakMap<GPUDevice, Map<string, Promise<AttendChoice>>>()

/** The decoder's side of a probe: its rows and positions, the layers' caches and norm weights, the GEMV options its kernels share. */
export interface AttendProbe {
  readonly rows: number
  readonly positions: number
  readonly storage: DecodeStorage
  /** each layer's K and V caches ([positions, rows, KV, D] f16, or f32 in tests) and its q/k norm weights */
  readonly layers: ReadonlyArray<{ readonly K: Binding; readonly V: Binding; readonly qNorm: Binding; readonly kNorm: Binding }>
  /** the decoder's other kernel options (its GEMVs), so that the probe's kernels are the ones it compiles anyway */
  readonly options: Omit<DecodeLayerOptions, "attend" | "gqa" | "rows" | "storage" | "queryGroup" | "foldCombine">
  /** max |Δ| allowed against the reference, relative to the largest |value| (default: 2e-2 in f16, 1e-4 in f32) */
  readonly tolerance?: number
}

/** An attention and its gqa layout as logs and Qwen3Decoder.attention name them: "coalesced", "gqa 32x8" ("-" a default). */
export const attendLabel = (c: AttendChoice): string => `${c.attend}${c.gqa ? ` ${c.gqa.warps ?? "-"}x${c.gqa.keys ?? "-"}` : ""}`

/** How a probe makes a candidate's kernels (decodeLayerKernels; tests wrap it to make a candidate wrong). */
export type MakeDecodeKernels = typeof decodeLayerKernels

export const chooseDecodeAttention = (gpu: Gpu, shape: EngineShape, probe: AttendProbe, candidates: ReadonlyArray<AttendChoice> = ATTEND_CANDIDATES, make: MakeDecodeKernels = decodeLayerKernels): Promise<AttendChoice> => {
  const { heads: H, kvHeads: KV, headDim: D } = shape
  const kernelRows = decodeKernelRows(probe.rows)
  const key = JSON.stringify([kernelRows, H, KV, D, probe.storage, 2 ** Math.ceil(Math.log2(probe.positions)), probe.layers.length, probe.options, candidates])
  const perDevice = chosenOn.get(gpu.device) ?? new Map<string, Promise<AttendChoice>>()
  chosenOn.set(gpu.device, perDevice)
  const hit = perDevice.get(key)
  if (hit) return hit
  const run = probeAttention(gpu, shape, probe, candidates, key, make).then((d) => {
    attendDecisions.push(d)
    // a failed probe is said whatever the log level: the decoder then runs the default unmeasured
    if (d.failed && process.env.FLEUVE_GENERATION_LOG !== "1") process.stderr.write(`generation: the decoding attention's probe failed (${d.failed}); ${attendLabel(d.chosen)}\n`)
    if (process.env.FLEUVE_GENERATION_LOG === "1") {
      const each = d.candidates.map((c) => `${attendLabel(c)} ${"ms" in c ? `${c.ms.toFixed(3)} ms` : `left out (${c.left})`}`).join("; ")
      process.stderr.write(`generation: decoding attention for ${kernelRows} rows at ${probe.positions} positions: ${attendLabel(d.chosen)} (${each}${d.failed ? `; the probe failed: ${d.failed}` : ""})\n`)
    }
    return d.chosen
  })
  perDevice.set(key, run)
  return run
}

const probeAttention = async (gpu: Gpu, shape: EngineShape, probe: AttendProbe, candidates: ReadonlyArray<AttendChoice>, key: string, make: MakeDecodeKernels): Promise<AttendDecision> => {
  const dev = gpu.device
  const { heads: H, kvHeads: KV, headDim: D, eps, theta } = shape
  const { rows, positions, storage } = probe
  const kernelRows = decodeKernelRows(rows)
  const reference = candidates[0]!
  const W = (H + 2 * KV) * D
  const bytes = storage === "f16" ? 2 : 4
  const slot = rows * KV * D // a position's keys (or values) in a cache
  const made: Array<GPUBuffer> = []
  const keep = (b: GPUBuffer) => (made.push(b), b)
  const stored = (x: Float32Array) => keep(storageBuffer(dev, storage === "f16" ? toF16(x) : x))
  const left: Array<AttendChoice & { readonly left: string }> = []
  try {
    const qkv = keep(storageBuffer(dev, seededRandoms(rows * W, 7, 2)))
    const paramsAt = (pos: number) => keep(uniformBuffer(dev, ...decodeAttendParams(rows, pos, H, KV, 1 / Math.sqrt(D), eps, theta)))
    const part = keep(storageBuffer(dev, attendPartialBytes(rows, H, D, positions)))
    const O = keep(storageBuffer(dev, rows * H * D * bytes))
    const first = probe.layers[0]!
    // the check's caches: random keys and values at every position (the last one is each kernel's append)
    const checked = Math.min(positions, CHECK_POSITIONS)
    const cache = () => stored(seededRandoms(checked * slot, 11 + made.length, 1))
    const [K, V] = [cache(), cache()]
    const [checkParams, params] = [paramsAt(checked - 1), paramsAt(positions - 1)]
    const runs: Array<{ readonly choice: AttendChoice; readonly layers: ReadonlyArray<Dispatch> }> = []
    // the first candidate that runs is the one the others must reproduce (the default, unless it cannot run here)
    let want: { readonly from: AttendChoice; readonly values: ReadonlyArray<Float32Array> } | undefined
    for (const choice of candidates) {
      const gqa = choice.attend === "gqa" || choice.attend === "gqa-split"
      if (gqa && !gqaRunsHere(gpu, D, storage, H / KV, choice.attend === "gqa-split", choice.gqa)) {
        left.push({ ...choice, left: "does not run on this device as written" })
        continue
      }
      const k = await make(gpu, D, { ...probe.options, rows: kernelRows, storage, attend: choice.attend, queryGroup: H / KV, ...(choice.gqa ? { gqa: choice.gqa } : {}) }).catch((e: unknown) => e instanceof Error ? e : new Error(String(e)))
      if (k instanceof Error) {
        left.push({ ...choice, left: `its kernels failed here: ${k.message.split("\n")[0]}` })
        continue
      }
      const attend = (c: { readonly K: Binding; readonly V: Binding; readonly qNorm: Binding; readonly kNorm: Binding }, at: GPUBuffer, length: number) =>
        k.attend({ QKV: qkv, QN: c.qNorm, KN: c.kNorm, K: c.K, V: c.V, O, Part: part, params: at }, rows, H, length)
      await runDispatches(dev, attend({ K, V, qNorm: first.qNorm, kNorm: first.kNorm }, checkParams, checked))
      const appended = (checked - 1) * slot * bytes
      const got = (await Promise.all([readBuffer(dev, O, rows * H * D * bytes), readBuffer(dev, K, slot * bytes, appended), readBuffer(dev, V, slot * bytes, appended)])).map((r) => valuesOf(r, storage))
      if (!want) want = { from: choice, values: got }
      else {
        const wrong = mismatch(got, want.values, probe.tolerance ?? probeTolerance(storage), ["output", "appended key", "appended value"])
        if (wrong !== undefined) {
          left.push({ ...choice, left: `does not reproduce ${attendLabel(want.from)} here (${wrong})` })
          continue
        }
      }
      runs.push({ choice, layers: probe.layers.flatMap((l) => attend(l, params, positions)) })
    }
    if (runs.length === 0) return { key, chosen: reference, candidates: left }
    if (runs.length === 1) return { key, chosen: runs[0]!.choice, candidates: [{ ...runs[0]!.choice, ms: NaN }, ...left] } // nothing to time it against
    const ms = await gpuMsEach(gpu, runs.map((r) => r.layers), 3)
    const timed = runs.map((r, i) => ({ ...r.choice, ms: +ms[i]!.toFixed(4) }))
    const fastest = timed.reduce((a, b) => (b.ms < a.ms ? b : a))
    const { ms: _ms, ...chosen } = fastest
    return { key, chosen, candidates: [...timed, ...left] }
  } catch (e) {
    // a probe that fails keeps the default, and says why
    return { key, chosen: reference, candidates: left, failed: e instanceof Error ? e.message.split("\n")[0]! : String(e) }
  } finally {
    for (const b of made) b.destroy()
  }
}
