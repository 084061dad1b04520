/**
 * Which of fleuve's WGSL kernels build on this adapter, and under which device set-up. Each
 * attempt runs in its own child process, because a driver fault at pipeline creation kills the
 * process instead of throwing. Prints one JSON line per attempt:
 *   {kernel, features, toggles, mode, ok, ms, error?}
 *
 *   node bench/gpu/diagnose.mjs [--only NAME,NAME] [--quick]
 */
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { pipeline, readBuffer, runDispatches, storageBuffer } from "../../model/wgsl/kernels/buffers.ts"
import { DAWN_TOGGLES, openGpu, WANTED_FEATURES } from "../../model/wgsl/kernels/device.ts"
import { attentionTcWgsl } from "../../model/wgsl/kernels/attention-tc.ts"
import { batchMatmulWgsl } from "../../model/wgsl/kernels/batch-matmul.ts"
import { addWgsl, attentionWgsl, castF16Wgsl, qkNormRopeWgsl, rmsnormWgsl, ropeWgsl, swigluWgsl } from "../../model/wgsl/kernels/fused.ts"
import { subgroupMatrixWgsl, tiledWgsl } from "../../model/wgsl/kernels/matmul.ts"

const trivialF32 = `@group(0) @binding(0) var<storage, read_write> X: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) { X[gid.x] = X[gid.x] * 2.0; }
`
const trivialF16 = `enable f16;
@group(0) @binding(0) var<storage, read_write> X: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) { X[gid.x] = f32(f16(X[gid.x]) * 2.0h); }
`
const trivialSubgroup = `enable subgroups;
@group(0) @binding(0) var<storage, read_write> X: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) { X[gid.x] = subgroupAdd(X[gid.x]); }
`

const KERNELS: Record<string, () => string> = {
  "trivial-f32": () => trivialF32,
  "trivial-f16": () => trivialF16,
  "trivial-subgroups": () => trivialSubgroup,
  add: () => addWgsl,
  "cast-f16": () => castF16Wgsl,
  rmsnorm: () => rmsnormWgsl,
  rope: () => ropeWgsl,
  swiglu: () => swigluWgsl,
  "attention-d128": () => attentionWgsl(128),
  "tiled-f16": () => tiledWgsl("f16"),
  "tiled-nf4": () => tiledWgsl("nf4"),
  "sm16-f16": () => subgroupMatrixWgsl("f16", 16),
  "sm16-nf4": () => subgroupMatrixWgsl("nf4", 16),
  "batch-matmul-nt": () => batchMatmulWgsl(false, true),
  "batch-matmul-tn": () => batchMatmulWgsl(true, false),
  "qk-norm-rope-d128": () => qkNormRopeWgsl(128),
  "attention-tc-d128": () => attentionTcWgsl(128)
}

const arg = (name: string) => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}

const child = async (kernel: string, features: ReadonlyArray<string>, toggles: ReadonlyArray<string>, mode: string) => {
  const opened = await openGpu({ features, toggles })
  if (opened._tag !== "Ready") throw new Error(opened.reason)
  const device = opened.gpu.device
  const t0 = performance.now()
  let result: Record<string, unknown> = {}
  if (mode === "async") {
    const module = device.createShaderModule({ code: KERNELS[kernel]!(), label: kernel })
    await device.createComputePipelineAsync({ layout: "auto", compute: { module, entryPoint: "main" }, label: kernel })
  } else {
    const p = await pipeline(device, KERNELS[kernel]!(), kernel)
    if (kernel.startsWith("trivial")) {
      const X = storageBuffer(device, Float32Array.from({ length: 64 }, (_, i) => i))
      await runDispatches(device, [{ pipeline: p, buffers: [X], groups: [1] }])
      const out = new Float32Array(await readBuffer(device, X, 64 * 4))
      result = { out: [out[0], out[1], out[63]] }
    }
  }
  console.log(JSON.stringify({ ok: true, ms: Math.round(performance.now() - t0), ...result }))
  opened.gpu.close()
}

const parent = () => {
  const only = arg("--only")?.split(",")
  const setupsWanted = arg("--setups")?.split(",")
  const self = fileURLToPath(import.meta.url)
  const setups: Array<{ name: string; features: ReadonlyArray<string>; toggles: ReadonlyArray<string>; env?: Record<string, string>; mode: string }> = [
    { name: "all-features", features: WANTED_FEATURES, toggles: DAWN_TOGGLES, mode: "sync" },
    { name: "no-features", features: [], toggles: [], mode: "sync" },
    { name: "f16+subgroups", features: ["shader-f16", "subgroups"], toggles: DAWN_TOGGLES, mode: "sync" },
    { name: "all-features-async", features: WANTED_FEATURES, toggles: DAWN_TOGGLES, mode: "async" },
    { name: "all-features-no-threaded-opt", features: WANTED_FEATURES, toggles: DAWN_TOGGLES, mode: "sync", env: { __GL_THREADED_OPTIMIZATIONS: "0", __GL_SHADER_DISK_CACHE: "0" } }
  ]
  const needs = (k: string, features: ReadonlyArray<string>) =>
    (!/f16|tiled|sm16|cast/.test(k) || features.includes("shader-f16")) &&
    (!/subgroups|attention|sm16/.test(k) || features.includes("subgroups")) &&
    (!/sm16/.test(k) || features.includes("chromium-experimental-subgroup-matrix"))
  for (const setup of setups) {
    if (setupsWanted && !setupsWanted.includes(setup.name)) continue
    for (const kernel of Object.keys(KERNELS)) {
      if (only && !only.includes(kernel)) continue
      if (!needs(kernel, setup.features)) continue
      const r = spawnSync(process.execPath, [self, "--child", kernel, "--features", setup.features.join(","), "--toggles", setup.toggles.join("|"), "--mode", setup.mode], {
        encoding: "utf8",
        timeout: 20_000,
        env: { ...process.env, ...setup.env }
      })
      const last = r.stdout.trim().split("\n").at(-1) ?? ""
      const parsed = last.startsWith("{") ? JSON.parse(last) : {}
      const error = r.status === 0 ? undefined : `${r.signal ?? `exit ${r.status}`}: ${(r.stderr || r.stdout).split("\n").filter((l) => l && !/deprecated/.test(l)).slice(-4).join(" / ").slice(0, 400)}`
      console.log(JSON.stringify({ setup: setup.name, kernel, ...parsed, ok: r.status === 0 && parsed.ok === true, ...(error ? { error } : {}) }))
    }
  }
}

if (process.argv.includes("--child")) {
  try {
    await child(arg("--child")!, (arg("--features") ?? "").split(",").filter(Boolean), (arg("--toggles") ?? "").split("|").filter(Boolean), arg("--mode") ?? "sync")
  } catch (e) {
    console.log(JSON.stringify({ ok: false, error: e instanceof Error ? e.message.slice(0, 3000) : String(e) }))
  }
  process.exit(0)
} else parent()
