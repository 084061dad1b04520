// The fused CPU path (model/cpu/, backend cpu-fused) against tfjs' cpu backend on the tiny Qwen3
// fixture: logits with padding, positions and a KV cache; the loss and every gradient of full
// fine-tuning (embedding included) and of LoRA with dropout; a short LoRA and a full training run
// giving the same losses. Transformers parity of its scoring and generation is in parity.test.ts.
import * as tf from "@tensorflow/tfjs-core"
import assert from "node:assert/strict"
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { jsKernels } from "../../model/cpu/kernels.ts"
import { aleaState as aleaStateForTest, cpuKernelsInUse, useCpuKernels } from "../../model/cpu/tfjs-bridge.ts"
import { wasmKernels } from "../../model/cpu/wasm-kernels.ts"
import { attachLora } from "../../model/qwen3/lora.ts"
import { loadModelDir } from "../../model/qwen3/checkpoint.ts"
import { missingVulkanDriver, selectBackend } from "../../model/tfjs/backend.ts"
import { ensureGradients } from "../../model/tfjs/gradients.ts"
import type { Qwen3Model } from "../../model/tfjs/qwen3-model.ts"
import { causalLmLoss } from "../../model/train/loss.ts"
import { defaultTrainOptions, train, type TrainingSequence } from "../../model/train/trainer.ts"
import { tinyDir, tinyReference } from "../helpers/model-fixture.ts"

const TOL = 1e-4
const work = mkdtempSync(join(tmpdir(), "fleuve-cpu-fused-"))
const lora = { r: 4, alpha: 8, dropout: 0.1, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] as const }

before(async () => {
  await ensureGradients()
})
after(() => rmSync(work, { recursive: true, force: true }))

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  assert.equal(a.length, b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!))
  return m
}

/** Runs `f` on tfjs' cpu backend and on cpu-fused, returning both results. */
const onBoth = async <T>(f: () => T): Promise<{ cpu: T; fused: T }> => {
  await selectBackend("cpu")
  const cpu = f()
  await selectBackend("cpu-fused")
  const fused = f()
  return { cpu, fused }
}

const ids = (model: Qwen3Model, rows: number, len: number, salt: number): Array<Array<number>> =>
  Array.from({ length: rows }, (_, r) => Array.from({ length: len }, (_, i) => (r * 131 + i * 37 + salt * 11) % model.config.vocabSize))

describe("cpu-fused forward", () => {
  it("gives tfjs' logits with padding, explicit positions and a KV cache", async () => {
    const { model } = loadModelDir(tinyDir)
    try {
      const first = ids(model, 2, 9, 1)
      const valid = [Array(9).fill(1), [...Array(6).fill(1), 0, 0, 0]]
      const next = ids(model, 2, 3, 2)
      const run = () => {
        const a = model.forward(first, { valid, keepCache: true })
        const b = model.forward(next, { cache: a.cache!, valid: [[1, 1, 1], [1, 1, 0]], positions: [[9, 10, 11], [6, 7, 8]], keepCache: true })
        const out = { first: a.logits.dataSync().slice(), next: b.logits.dataSync().slice(), k: b.cache!.k[1]!.dataSync().slice(), v: b.cache!.v[0]!.dataSync().slice() }
        tf.dispose([a.logits, b.logits, ...a.cache!.k, ...a.cache!.v, ...b.cache!.k, ...b.cache!.v])
        return out
      }
      const { cpu, fused } = await onBoth(run)
      for (const key of ["first", "next", "k", "v"] as const) assert.ok(maxDiff(cpu[key], fused[key]) < TOL, `${key}: ${maxDiff(cpu[key], fused[key])}`)
    } finally {
      model.dispose()
    }
  })
})

describe("cpu-fused gradients", () => {
  it("gives tfjs' loss and gradients for full fine-tuning, embedding and norms included", async () => {
    const { model } = loadModelDir(tinyDir, { trainable: true })
    try {
      const batch = ids(model, 2, 12, 3)
      const targetMask = [Array(12).fill(1), [...Array(5).fill(0), ...Array(7).fill(1)]]
      const vars = [...model.params.values()] as Array<tf.Variable>
      const run = () => {
        const { value, grads } = tf.variableGrads(() => tf.div(causalLmLoss(model, batch, { targetMask }), 2) as tf.Scalar, vars)
        const out = { loss: value.dataSync()[0]!, grads: vars.map((v) => grads[v.name]!.dataSync().slice()) }
        tf.dispose([value, ...Object.values(grads)])
        return out
      }
      const { cpu, fused } = await onBoth(run)
      assert.ok(Math.abs(cpu.loss - fused.loss) < TOL, `loss ${cpu.loss} vs ${fused.loss}`)
      const names = [...model.params.keys()]
      cpu.grads.forEach((g, i) => assert.ok(maxDiff(g, fused.grads[i]!) < TOL, `${names[i]}: ${maxDiff(g, fused.grads[i]!)}`))
      // the embedding's gradient is a real scatter-add, not zeros
      assert.ok(fused.grads[names.indexOf("model.embed_tokens.weight")]!.some((x) => x !== 0))
    } finally {
      model.dispose()
    }
  })

  it("gives tfjs' LoRA gradients with the same seeded dropout masks", async () => {
    const { model } = loadModelDir(tinyDir)
    try {
      attachLora(model, lora, 5)
      for (const pair of model.lora.values()) pair.b.assign(tf.randomNormal(pair.b.shape, 0, 0.3, "float32", 13))
      const batch = ids(model, 2, 10, 4)
      const vars = [...model.lora.values()].flatMap((p) => [p.a, p.b])
      const run = () => {
        const { value, grads } = tf.variableGrads(() => causalLmLoss(model, batch, { dropoutSeed: 17 }), vars)
        const out = { loss: value.dataSync()[0]!, grads: vars.map((v) => grads[v.name]!.dataSync().slice()) }
        tf.dispose([value, ...Object.values(grads)])
        return out
      }
      const { cpu, fused } = await onBoth(run)
      assert.ok(Math.abs(cpu.loss - fused.loss) < TOL, `loss ${cpu.loss} vs ${fused.loss}`)
      cpu.grads.forEach((g, i) => assert.ok(maxDiff(g, fused.grads[i]!) < TOL, `LoRA tensor ${i}: ${maxDiff(g, fused.grads[i]!)}`))
    } finally {
      model.dispose()
    }
  })
})

describe("cpu-fused training", () => {
  const data = (model: Qwen3Model): Array<TrainingSequence> => ids(model, 6, 16, 5).map((row, r) => ({ ids: row, targetMask: row.map((_, i) => (i >= r ? 1 : 0)) }))
  const options = { ...defaultTrainOptions, totalSteps: 4, microBatch: 2, gradAccumulation: 2, peakLr: 5e-3, warmupRatio: 0 }

  it("trains a LoRA adapter with the cpu backend's losses", async () => {
    const losses: Record<string, Array<number>> = {}
    for (const backend of ["cpu", "cpu-fused"] as const) {
      await selectBackend(backend)
      const { model } = loadModelDir(tinyDir)
      attachLora(model, lora, 9)
      losses[backend] = (await train(model, { kind: "lora", lora, baseModel: "tiny" }, data(model), { ...options, outDir: join(work, `lora-${backend}`) })).losses
      model.dispose()
    }
    assert.equal(losses["cpu-fused"]!.length, 4)
    losses.cpu!.forEach((l, i) => assert.ok(Math.abs(l - losses["cpu-fused"]![i]!) < 1e-3, `step ${i + 1}: ${l} vs ${losses["cpu-fused"]![i]}`))
  })

  it("trains every weight (DAPT) with the cpu backend's losses", async () => {
    const losses: Record<string, Array<number>> = {}
    for (const backend of ["cpu", "cpu-fused"] as const) {
      await selectBackend(backend)
      const { model } = loadModelDir(tinyDir, { trainable: true })
      losses[backend] = (await train(model, { kind: "full", save: async () => {} }, data(model), { ...options, outDir: join(work, `full-${backend}`) })).losses
      model.dispose()
    }
    losses.cpu!.forEach((l, i) => assert.ok(Math.abs(l - losses["cpu-fused"]![i]!) < 1e-3, `step ${i + 1}: ${l} vs ${losses["cpu-fused"]![i]}`))
    assert.ok(losses["cpu-fused"]![3]! < losses["cpu-fused"]![0]!, `losses go down: ${losses["cpu-fused"]}`)
  })
})

describe("cpu kernels", () => {
  it("computes the three matrix products as the JavaScript reference does", async () => {
    await selectBackend("cpu-fused")
    const k = cpuKernelsInUse()
    const ref = jsKernels()
    const rand = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + s) * 0.5)
    // WebAssembly SIMD unless FLEUVE_CPU_KERNELS=js; the larger shapes are split between threads
    if (process.env.FLEUVE_CPU_KERNELS !== "js") assert.match(k.name, /^WebAssembly SIMD/)
    for (const [m, n, kk] of [[1, 1, 1], [5, 7, 3], [17, 33, 65], [64, 40, 24], [3, 129, 130], [64, 70, 40], [130, 33, 300], [9, 261, 270], [130, 100, 90], [64, 128, 130]] as const) {
      for (const op of ["gemmNT", "gemmNN", "gemmTN"] as const) {
        for (const accumulate of [false, true]) {
          const mark = k.mark()
          const a = k.alloc(m * kk)
          a.set(rand(m * kk, 1))
          const b = k.alloc(n * kk)
          b.set(rand(n * kk, 2))
          const c = k.alloc(m * n)
          c.set(rand(m * n, 3))
          const want = rand(m * n, 3)
          ref[op](rand(m * kk, 1), rand(n * kk, 2), want, m, n, kk, 0.75, accumulate)
          k[op](a, b, c, m, n, kk, 0.75, accumulate)
          assert.ok(maxDiff(c, want) < 1e-5, `${k.name} ${op} ${m}×${n}×${kk} accumulate=${accumulate}: ${maxDiff(c, want)}`)
          k.release(mark)
        }
      }
    }
  })
})

describe("cpu-fused dropout masks", () => {
  it("draws exactly tfjs' seeded randomUniform masks", async () => {
    await selectBackend("cpu-fused")
    const k = cpuKernelsInUse()
    if (!k.fused) return // FLEUVE_CPU_KERNELS=js: the masks come from tfjs itself
    for (const [seed, p] of [[7919, 0.05], [123456789012, 0.1], [17, 0.5]] as const) {
      const keep = Math.fround(1 - p)
      const u = tf.randomUniform([37, 29], 0, 1, "float32", seed)
      const want = Float32Array.from(u.dataSync(), (x) => Math.floor(Math.fround(x + keep)) / keep)
      u.dispose()
      const mark = k.mark()
      const got = k.alloc(37 * 29)
      k.fused.dropoutMask(got, aleaStateForTest(String(seed)), keep)
      assert.deepEqual(Array.from(got), Array.from(want), `seed ${seed}`)
      k.release(mark)
    }
  })
})

describe("cpu-fused split over two threads", () => {
  // Every job split into chunks the two threads claim (the model's own sizes stay under the
  // threshold that splits them in normal use): attention, cross-entropy and the products.
  const split = async <T>(f: () => Promise<T>): Promise<T> => {
    await selectBackend("cpu-fused")
    const before = cpuKernelsInUse()
    useCpuKernels(wasmKernels({ threads: 2, splitMin: 0 }))
    try {
      return await f()
    } finally {
      useCpuKernels(before)
    }
  }

  it("gives tfjs' logits with left padding (rows with no visible key) and a KV cache", async () => {
    const { model } = loadModelDir(tinyDir)
    try {
      const first = ids(model, 3, 9, 6)
      const valid = [Array(9).fill(1), [0, 0, 0, ...Array(6).fill(1)], [...Array(7).fill(1), 0, 0]]
      const next = ids(model, 3, 2, 7)
      const run = () => {
        const a = model.forward(first, { valid, keepCache: true })
        const b = model.forward(next, { cache: a.cache!, valid: [[1, 1], [1, 1], [1, 0]], positions: [[9, 10], [6, 7], [7, 8]] })
        const out = { first: a.logits.dataSync().slice(), next: b.logits.dataSync().slice() }
        tf.dispose([a.logits, b.logits, ...a.cache!.k, ...a.cache!.v])
        return out
      }
      await selectBackend("cpu")
      const cpu = run()
      const fused = await split(async () => run())
      for (const key of ["first", "next"] as const) assert.ok(maxDiff(cpu[key], fused[key]) < TOL, `${key}: ${maxDiff(cpu[key], fused[key])}`)
    } finally {
      model.dispose()
    }
  })

  it("gives tfjs' loss and gradients of full fine-tuning", async () => {
    const { model } = loadModelDir(tinyDir, { trainable: true })
    try {
      // (token 0 left out: the embedding gradient of its row differs from tfjs cpu on either kernels, an open question)
      const batch = ids(model, 3, 11, 9)
      const targetMask = [Array(11).fill(1), [...Array(4).fill(0), ...Array(7).fill(1)], Array(11).fill(1)]
      const vars = [...model.params.values()] as Array<tf.Variable>
      const run = () => {
        const { value, grads } = tf.variableGrads(() => causalLmLoss(model, batch, { targetMask }), vars)
        const out = { loss: value.dataSync()[0]!, grads: vars.map((v) => grads[v.name]!.dataSync().slice()) }
        tf.dispose([value, ...Object.values(grads)])
        return out
      }
      await selectBackend("cpu")
      const cpu = run()
      const fused = await split(async () => run())
      assert.ok(Math.abs(cpu.loss - fused.loss) < TOL, `loss ${cpu.loss} vs ${fused.loss}`)
      const names = [...model.params.keys()]
      cpu.grads.forEach((g, i) => assert.ok(maxDiff(g, fused.grads[i]!) < TOL, `${names[i]}: ${maxDiff(g, fused.grads[i]!)}`))
    } finally {
      model.dispose()
    }
  })

  it("picks log-probs and argmax (first of equal maxima) as the f64 loop does", async () => {
    const rows = 37
    const n = 203
    const x = Float32Array.from({ length: rows * n }, (_, i) => Math.round(Math.sin(i * 1.7) * 40) / 8)
    const targets = Int32Array.from({ length: rows }, (_, r) => (r * 53) % n)
    const got = await split(async () => cpuKernelsInUse().fused!.pickTargets(x, rows, n, targets))
    for (let r = 0; r < rows; r++) {
      const row = Array.from(x.subarray(r * n, r * n + n))
      const max = Math.max(...row)
      const lse = max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0))
      assert.equal(got.argmax[r], row.indexOf(max), `row ${r}`)
      assert.ok(Math.abs(got.logprobs[r]! - (row[targets[r]!]! - lse)) < 1e-5, `row ${r}: ${got.logprobs[r]} vs ${row[targets[r]!]! - lse}`)
    }
  })
})

describe("cpu-fused chosen by auto", () => {
  it("is auto's choice without a GPU, said once on stderr with why, without Dawn's Vulkan warnings", { skip: missingVulkanDriver() ? false : "this machine has a Vulkan driver: auto may pick webgpu" }, () => {
    const ref = tinyReference()
    const input = join(work, "auto.jsonl")
    writeFileSync(input, ref.scoring.slice(0, 2).map((r, i) => JSON.stringify({ id: `o${i}`, context: r.context, continuation: r.continuation })).join("\n"))
    const r = spawnSync("node", ["bin/fleuve.mjs", "model", "logprobs", "--model", tinyDir, "--input", input], { encoding: "utf8", cwd: join(import.meta.dirname, "..", "..") })
    assert.equal(r.status, 0, r.stderr)
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l))
    lines.forEach((l, i) => assert.ok(Math.abs(l.logprob - ref.scoring[i]!.logprob) < 1e-3))
    const said = r.stderr.split("\n").filter((l) => /^fleuve: backend /.test(l))
    assert.equal(said.length, 1, r.stderr)
    assert.match(said[0]!, /backend cpu-fused on CPU \(fleuve fused Qwen3 kernels: .*\(auto; passed over: webgpu: no GPU: no Vulkan driver/)
    if (process.env.FLEUVE_CPU_KERNELS !== "js") assert.match(said[0]!, /kernels: WebAssembly SIMD, \d+ threads?\)/)
    assert.doesNotMatch(r.stderr, /vkCreateInstance|Found no drivers/)
    assert.match(r.stderr, /scoring: tfjs runtime \(the tensor backend is cpu-fused, not webgpu\)/)
  })
})
