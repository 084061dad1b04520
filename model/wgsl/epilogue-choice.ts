import { readBuffer, runDispatches, seededRandoms, storageBuffer, toF16, uniformBuffer, f16BitsToF32, type Dispatch } from "./kernels/buffers.ts"
import type { Gpu } from "./kernels/device.ts"
import type { FusedKernels } from "./kernels/fused.ts"
import { matmulPlan, type MatmulPlan, type MatmulShape } from "./kernels/matmul.ts"
import type { MatmulEpilogue } from "./kernels/matmul-tiles.ts"
import { gpuMsEach } from "./kernels/profile.ts"
import type { WeightFormat } from "./kernels/weight-format.ts"
import type { TokenKernels } from "./token-kernels.ts"
import { interleaveRows } from "./kernels/weight-merge.ts"

/**
 * Whether the scoring forward runs a matmul epilogue (matmul-tiles.ts) or the separate pass it
 * replaces: the up projection's SwiGLU ("swiglu", FLEUVE_SWIGLU_EPILOGUE), the gate and up
 * projections as one interleaved matmul with SwiGLU in its epilogue ("gate-up",
 * FLEUVE_GATE_UP_EPILOGUE) and the lm_head's log-softmax pick ("pick", FLEUVE_PICK_EPILOGUE). "1" uses the epilogue, "0" the separate pass;
 * unset, the device decides, as the attention's form does (attention-tc.ts pickAttentionForm):
 * the epilogue must reproduce the separate pass on a small problem on this device, then the faster
 * of the two at the forward's own widths wins (GPU timestamps where the device has them). So a card
 * whose compiler mishandles the epilogue, or where its extra barriers cost more than the pass it
 * saves, keeps the separate pass. Decided once per device, format and shape.
 */
type EpilogueMode = "on" | "off" | "auto"

const ENV: Record<Epilogue, string> = { swiglu: "FLEUVE_SWIGLU_EPILOGUE", pick: "FLEUVE_PICK_EPILOGUE", "gate-up": "FLEUVE_GATE_UP_EPILOGUE" }

const epilogueMode = (epilogue: Epilogue): EpilogueMode => {
  const v = process.env[ENV[epilogue]]
  if (v !== undefined && v !== "" && v !== "0" && v !== "1") throw new Error(`${ENV[epilogue]} must be 1 (use the epilogue), 0 (the separate pass) or unset (the device decides), not '${v}'`)
  return v === "1" ? "on" : v === "0" ? "off" : "auto"
}

/** What a probe decided, for benches and logs: the milliseconds of each path where it got that far. */
export interface EpilogueDecision {
  readonly epilogue: Exclude<MatmulEpilogue, "none">
  readonly use: boolean
  readonly why: string
  readonly ms?: { readonly separate: number; readonly epilogue: number }
}

/** Every decision this process took (benches print them beside their profiles). */
export const epilogueDecisions: Array<EpilogueDecision & { readonly key: string }> = []

const decided = new WeakMap<GPUDevice, Map<string, Promise<boolean>>>()

/** A weight [N, K] in the plan's format: f16 values, or NF4 codes (any 4 bits are a code) with one scale. */
const weightOf = (device: GPUDevice, format: WeightFormat, N: number, K: number, seed: number) => format === "f16"
  ? { B: storageBuffer(device, toF16(seededRandoms(N * K, seed, 0.05))) }
  : { B: storageBuffer(device, Uint32Array.from(seededRandoms((N * K) / 8, seed, 1), (v) => Math.floor((v + 1) * 2 ** 31) >>> 0)), absmax: storageBuffer(device, new Float32Array((N * K) / 64).fill(0.05)) }

type Epilogue = Exclude<MatmulEpilogue, "none">

/** Registers a probe's buffer, to be freed when the probe ends. */
type Keep = (b: GPUBuffer) => GPUBuffer

/** Both paths' dispatches over one set of operands. */
interface Paths {
  readonly separate: ReadonlyArray<Dispatch>
  readonly epilogue: ReadonlyArray<Dispatch>
}

/**
 * One probe, once per device and key: `check` runs both paths on a small problem and says why the
 * epilogue is wrong there (undefined: it reproduces the separate pass), then `timed`'s two paths at
 * the forward's widths take turns (GPU timestamps where the device has them) and the faster wins.
 * Buffers made through `keep` are freed after; a probe that throws keeps the separate pass.
 */
const decide = (gpu: Gpu, epilogue: Epilogue, key: string, probe: {
  readonly check: (keep: Keep) => Promise<string | undefined>
  readonly timed: (keep: Keep) => Paths
}): Promise<boolean> => {
  const perDevice = decided.get(gpu.device) ?? new Map<string, Promise<boolean>>()
  decided.set(gpu.device, perDevice)
  const hit = perDevice.get(key)
  if (hit) return hit
  const run = (async (): Promise<EpilogueDecision> => {
    const made: Array<GPUBuffer> = []
    const keep: Keep = (b) => (made.push(b), b)
    try {
      const wrong = await probe.check(keep)
      if (wrong !== undefined) return { epilogue, use: false, why: `does not reproduce the separate pass on this device (${wrong})` }
      const paths = probe.timed(keep)
      const [a, b] = await gpuMsEach(gpu, [paths.separate, paths.epilogue], 3)
      const ms = { separate: +a!.toFixed(4), epilogue: +b!.toFixed(4) }
      return { epilogue, use: b! < a!, why: b! < a! ? "reproduces the separate pass and is faster" : "reproduces the separate pass but is not faster", ms }
    } finally {
      for (const b of made) b.destroy()
    }
  })()
    .catch((e): EpilogueDecision => ({ epilogue, use: false, why: `the probe failed: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}` }))
    .then((d) => {
      epilogueDecisions.push({ ...d, key })
      return d.use
    })
  perDevice.set(key, run)
  return run
}

/**
 * The up projection with SwiGLU in its epilogue, where it reproduces `up` + the SwiGLU pass on this
 * device and is faster at `shape` (the forward's up projection: M rows, N = intermediate, K = hidden);
 * undefined: the separate pass.
 */
export const swigluEpilogue = async (gpu: Gpu, format: WeightFormat, up: MatmulPlan, fused: FusedKernels, shape: MatmulShape): Promise<MatmulPlan | undefined> => {
  const mode = epilogueMode("swiglu")
  if (mode === "off" || up.impl !== "subgroup-matrix") return undefined
  const plan = await matmulPlan(gpu, format, undefined, { epilogue: "swiglu" }).catch(() => undefined)
  if (!plan || mode === "on") return plan
  const device = gpu.device
  // one problem's operands: A [M, K] f16, the weight, G [M, N] f32 (gates of both signs), C, Y and Y from the separate pass; both paths over them
  const problem = (keep: Keep, { M, N, K }: MatmulShape, seed: number) => {
    const w = weightOf(device, format, N, K, seed)
    const o = {
      A: keep(storageBuffer(device, toF16(seededRandoms(M * K, seed + 1, 1)))), B: keep(w.B), ...(w.absmax ? { absmax: keep(w.absmax) } : {}),
      G: keep(storageBuffer(device, seededRandoms(M * N, seed + 2, 6))), C: keep(storageBuffer(device, M * N * 4)),
      Y: keep(storageBuffer(device, M * N * 2)), Ys: keep(storageBuffer(device, M * N * 2)), params: keep(uniformBuffer(device, [M, N, K, 0])), n: keep(uniformBuffer(device, [M * N]))
    }
    const paths: Paths = {
      separate: [up.dispatch({ A: o.A, B: o.B, C: o.C, params: o.params, ...(o.absmax ? { absmax: o.absmax } : {}) }, M, N, K), fused.swigluF16({ G: o.G, U: o.C, Y: o.Ys, params: o.n }, M * N)],
      epilogue: [plan.dispatch({ A: o.A, B: o.B, C: o.C, G: o.G, Y: o.Y, params: o.params, ...(o.absmax ? { absmax: o.absmax } : {}) }, M, N, K)]
    }
    return { o, paths }
  }
  const use = await decideOnHalves(gpu, "swiglu", `swiglu|${format}|${shape.M}x${shape.N}x${shape.K}`, shape, problem, [11, 23])
  return use ? plan : undefined
}

/**
 * The gate and up projections as one matmul over their weights interleaved F rows at a time
 * (kernels/weight-merge.ts interleaveRows, F the plan's fragment) with SwiGLU in its epilogue
 * (matmul-tiles.ts "gate-up": neither projection stored), where it reproduces gate + up + the SwiGLU
 * pass on this device and is faster at `shape` (the forward's: M rows, N = intermediate, K =
 * hidden); undefined: the separate passes. The caller interleaves its weights with the plan's fragment.
 */
export const gateUpEpilogue = async (gpu: Gpu, format: WeightFormat, mm: MatmulPlan, fused: FusedKernels, shape: MatmulShape): Promise<MatmulPlan | undefined> => {
  const mode = epilogueMode("gate-up")
  if (mode === "off" || mm.impl !== "subgroup-matrix") return undefined
  const plan = await matmulPlan(gpu, format, undefined, { epilogue: "gate-up" }).catch(() => undefined)
  if (!plan || mode === "on") return plan
  const device = gpu.device
  // one problem's operands: A [M, K] f16, gate and up weights and their interleaving, G, U, Y from the separate passes, Y from the epilogue
  const problem = (keep: Keep, { M, N, K }: MatmulShape, seed: number) => {
    const [gate, up] = [weightOf(device, format, N, K, seed), weightOf(device, format, N, K, seed + 1)]
    for (const w of [gate, up]) for (const b of [w.B, ...(w.absmax ? [w.absmax] : [])]) keep(b)
    const enc = device.createCommandEncoder()
    const merged = interleaveRows(device, enc, format, K, gate, up, N, plan.fragment!)
    device.queue.submit([enc.finish()])
    for (const b of [merged.B, ...(merged.absmax ? [merged.absmax] : [])]) keep(b)
    const o = {
      A: keep(storageBuffer(device, toF16(seededRandoms(M * K, seed + 2, 1)))),
      G: keep(storageBuffer(device, M * N * 4)), U: keep(storageBuffer(device, M * N * 4)),
      Y: keep(storageBuffer(device, M * N * 2)), Ys: keep(storageBuffer(device, M * N * 2)),
      params: keep(uniformBuffer(device, [M, N, K, 0])), merged: keep(uniformBuffer(device, [M, 2 * N, K, 0])), n: keep(uniformBuffer(device, [M * N]))
    }
    const paths: Paths = {
      separate: [
        mm.dispatch({ A: o.A, C: o.G, params: o.params, ...gate }, M, N, K), mm.dispatch({ A: o.A, C: o.U, params: o.params, ...up }, M, N, K),
        fused.swigluF16({ G: o.G, U: o.U, Y: o.Ys, params: o.n }, M * N)
      ],
      epilogue: [plan.dispatch({ A: o.A, C: o.Y, params: o.merged, ...merged }, M, 2 * N, K)]
    }
    return { o, paths }
  }
  const use = await decideOnHalves(gpu, "gate-up", `gate-up|${format}|${shape.M}x${shape.N}x${shape.K}`, shape, problem, [13, 29])
  return use ? plan : undefined
}

/**
 * `decide` for an epilogue whose two paths each write an f16 result (Ys by the separate passes, Y
 * by the epilogue): checked on a small problem (seeds[0]), timed at `shape` (seeds[1]).
 */
const decideOnHalves = (gpu: Gpu, epilogue: Epilogue, key: string, shape: MatmulShape,
  problem: (keep: Keep, shape: MatmulShape, seed: number) => { readonly o: { readonly Ys: GPUBuffer; readonly Y: GPUBuffer }; readonly paths: Paths }, seeds: readonly [number, number]): Promise<boolean> =>
  decide(gpu, epilogue, key, {
    check: async (keep) => {
      const small = { M: 256, N: 256, K: 128 }
      const { o, paths } = problem(keep, small, seeds[0])
      await runDispatches(gpu.device, [...paths.separate, ...paths.epilogue])
      return halvesDiffer(gpu.device, o.Ys, o.Y, small.M * small.N)
    },
    timed: (keep) => problem(keep, shape, seeds[1]).paths
  })

/** Why two f16 results differ beyond f16 rounding (2e-3 of the largest), or undefined where they agree. */
const halvesDiffer = async (device: GPUDevice, want: GPUBuffer, got: GPUBuffer, n: number): Promise<string | undefined> => {
  const halves = async (b: GPUBuffer) => Float32Array.from(new Uint16Array(await readBuffer(device, b, n * 2)), f16BitsToF32)
  const [w, g] = await Promise.all([halves(want), halves(got)])
  let err = 0
  let top = 0
  for (let i = 0; i < w.length; i++) {
    err = Math.max(err, Math.abs(g[i]! - w[i]!))
    top = Math.max(top, Math.abs(w[i]!))
  }
  return err <= 2e-3 * top ? undefined : `max difference ${err} of ${top}`
}

/**
 * The lm_head with the pick in its epilogue (no logits stored), where its (log-prob, argmax) pairs
 * reproduce the lm_head + pick-partial on this device and it is faster at `shape` (a chunk of the
 * head: M rows, N columns of the vocabulary, K = hidden); undefined: the separate pick.
 */
export const pickEpilogue = async (gpu: Gpu, head: MatmulPlan, tok: TokenKernels, shape: MatmulShape): Promise<MatmulPlan | undefined> => {
  const mode = epilogueMode("pick")
  if (mode === "off" || head.impl !== "subgroup-matrix") return undefined
  const plan = await matmulPlan(gpu, "f16", undefined, { epilogue: "pick" }).catch(() => undefined)
  if (!plan || mode === "on") return plan
  const device = gpu.device
  const width = plan.pickWidth!
  // one problem's operands (random targets), both paths over them into their own state
  const problem = (keep: Keep, { M, N, K }: MatmulShape, seed: number) => {
    const o = {
      A: keep(storageBuffer(device, toF16(seededRandoms(M * K, seed, 1)))), B: keep(storageBuffer(device, toF16(seededRandoms(N * K, seed + 1, 0.2)))),
      logits: keep(storageBuffer(device, M * N * 4)), partials: keep(storageBuffer(device, M * (N / width) * 16)),
      targets: keep(storageBuffer(device, Uint32Array.from(seededRandoms(M, seed + 2, 1), (v) => Math.floor(((v + 1) / 2) * N) % N))),
      state: keep(storageBuffer(device, M * 16)), stateE: keep(storageBuffer(device, M * 16)),
      mm: keep(uniformBuffer(device, [M, N, K, 0])), pick: keep(uniformBuffer(device, [M, N, 0, 1])), merge: keep(uniformBuffer(device, [M, N, 0, 1, N / width, width]))
    }
    const paths: Paths = {
      separate: [head.dispatch({ A: o.A, B: o.B, C: o.logits, params: o.mm }, M, N, K), tok.pickPartial({ logits: o.logits, targets: o.targets, state: o.state, params: o.pick }, M)],
      epilogue: [plan.dispatch({ A: o.A, B: o.B, C: o.partials, targets: o.targets, params: o.mm }, M, N, K), tok.pickMerge({ partials: o.partials, targets: o.targets, state: o.stateE, params: o.merge }, M)]
    }
    return { o, paths }
  }
  const use = await decide(gpu, "pick", `pick|${shape.M}x${shape.N}x${shape.K}`, {
    check: async (keep) => {
      const small = { M: 256, N: 512, K: 128 }
      const { o, paths } = problem(keep, small, 31)
      const [out, outE, finish] = [keep(storageBuffer(device, small.M * 8)), keep(storageBuffer(device, small.M * 8)), keep(uniformBuffer(device, [small.M]))]
      await runDispatches(device, [...paths.separate, tok.pickFinish({ state: o.state, out, params: finish }, small.M), ...paths.epilogue, tok.pickFinish({ state: o.stateE, out: outE, params: finish }, small.M)])
      const [want, got] = await Promise.all([readBuffer(device, out, small.M * 8), readBuffer(device, outE, small.M * 8)])
      const [wf, gf, wu, gu] = [new Float32Array(want), new Float32Array(got), new Uint32Array(want), new Uint32Array(got)]
      for (let r = 0; r < small.M; r++) {
        const off = Math.abs(gf[2 * r]! - wf[2 * r]!)
        if (gu[2 * r + 1] !== wu[2 * r + 1] || !(off <= 1e-3 * Math.max(1, Math.abs(wf[2 * r]!)))) return `row ${r}: ${gf[2 * r]}, ${gu[2 * r + 1]} against ${wf[2 * r]}, ${wu[2 * r + 1]}`
      }
      return undefined
    },
    timed: (keep) => problem(keep, shape, 47).paths
  })
  return use ? plan : undefined
}
