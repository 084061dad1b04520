// QLoRA through `fleuve train lora --nf4` and a study's lora.nf4: the NF4 base exists on fleuve's
// WGSL trainer only, and asking for it anywhere else is a clear error before any step runs (the
// trainer's own NF4 kernels are tested on the GPU: test/model/wgsl/kernels/trainer.test.ts).
import assert from "node:assert/strict"
import { join } from "node:path"
import { test } from "node:test"
import { NF4OnlyOnWgsl, runTraining, type TrainingRun } from "../../pipelines/train.ts"
import { tinyDir } from "../helpers/model-fixture.ts"
import { tempDir } from "../helpers/warehouse.ts"

const run = (over: Partial<TrainingRun>): TrainingRun => ({
  from: tinyDir,
  to: join(tempDir("fleuve-nf4-"), "out"),
  sequences: () => [{ ids: [1, 2, 3, 4], targets: [2, 3, 4, 5] } as never],
  steps: 1,
  settings: { microBatch: 1, gradAccumulation: 1 },
  seed: 1,
  log: () => {},
  nf4: true,
  ...over
})

const lora = { r: 4, alpha: 8, dropout: 0, targetModules: ["q_proj"] as const }

test("--nf4 on the tfjs runtime, or without LoRA, is refused before the model loads, saying why", async () => {
  await assert.rejects(runTraining(run({ lora: { ...lora, targetModules: [...lora.targetModules] }, engine: "tfjs", from: "/nowhere" })), (e: unknown) => e instanceof NF4OnlyOnWgsl && /--engine tfjs cannot take --nf4/.test(e.message))
  await assert.rejects(runTraining(run({ from: "/nowhere" })), (e: unknown) => e instanceof NF4OnlyOnWgsl && /needs LoRA/.test(e.message))
})

test("--nf4 where the WGSL trainer cannot run (here: the CPU backend) is an error naming the reason, not an f16 run", async () => {
  await assert.rejects(runTraining(run({ lora: { ...lora, targetModules: [...lora.targetModules] }, backend: "cpu" })), (e: unknown) => e instanceof NF4OnlyOnWgsl && /WGSL trainer only, which cannot run here: /.test(e.message))
})

test("fleuve train lora --nf4 --engine tfjs exits 1 naming the reason; without --nf4 the flag is off (not required)", async () => {
  const { spawnSync } = await import("node:child_process")
  const { repoRoot } = await import("../helpers/paths.ts")
  const out = join(tempDir("fleuve-nf4-cli-"), "out")
  const args = ["bin/fleuve.mjs", "train", "lora", "--model", tinyDir, "--data", join(tinyDir, "corpus.txt"), "--out", out, "--seq-len", "16", "--steps", "1", "--micro-batch", "1", "--grad-accum", "1", "--r", "2", "--alpha", "4", "--targets", "q_proj", "--backend", "cpu"]
  const refused = spawnSync(process.execPath, [...args, "--nf4", "--engine", "tfjs"], { cwd: repoRoot, encoding: "utf8", timeout: 120_000 })
  assert.equal(refused.status, 1, refused.stderr)
  assert.match(refused.stderr, /NF4 \(QLoRA\) bases train on fleuve's WGSL trainer only: --engine tfjs cannot take --nf4/)
  const plain = spawnSync(process.execPath, [...args, "--engine", "tfjs"], { cwd: repoRoot, encoding: "utf8", timeout: 120_000 })
  assert.equal(plain.status, 0, plain.stderr)
})
