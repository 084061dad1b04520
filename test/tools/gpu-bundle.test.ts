import assert from "node:assert/strict"
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { after, describe, it } from "node:test"
import { tinyDir } from "../helpers/model-fixture.ts"

// Builds the real archive through the CLI (esbuild, the running Node, dawn.node, libvulkan1 from
// .cache/gpu, fetched by scripts/setup/40-libvulkan-deb.sh), unpacks it and runs it with the
// machine's own node and node_modules out of reach (cwd and HOME in a temp dir, empty PATH).
const root = resolve(import.meta.dirname, "..", "..")
const dir = mkdtempSync(join(tmpdir(), "fleuve-bundle-test-"))
after(() => rmSync(dir, { recursive: true, force: true }))
const hasDeb = existsSync(join(root, ".cache", "gpu")) && readdirSync(join(root, ".cache", "gpu")).some((f) => f.startsWith("libvulkan1_"))

describe("fleuve gpu-bundle", { skip: hasDeb ? false : "no .cache/gpu/libvulkan1_*.deb (scripts/setup/40-libvulkan-deb.sh needs apt-get)" }, () => {
  const archive = join(dir, "fleuve-gpu.tar.gz")
  const unpacked = join(dir, "host")
  const cleanEnv = { HOME: dir, PATH: "/usr/bin:/bin" }

  it("builds one archive holding node, the one-file app, dawn.node, libvulkan, run.sh and a README", () => {
    const r = spawnSync(process.execPath, [join(root, "bin", "fleuve.mjs"), "gpu-bundle", "--out", archive], { cwd: root, encoding: "utf8" })
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /fleuve-gpu\.tar\.gz: [\d.]+ MiB/)
    mkdirSync(unpacked)
    assert.equal(spawnSync("tar", ["-xzf", archive, "-C", unpacked]).status, 0)
    const top = join(unpacked, "fleuve")
    for (const f of ["run.sh", "README.md", "MANIFEST.json", "bin/node", "app/fleuve.mjs", "app/node_modules/webgpu/dist/linux-x64/dawn.node", "lib/libvulkan.so.1", "lib/libGLdispatch.so.0", "lib/libGLX.so.0", "app/migrations/0001_core.sql"]) {
      assert.ok(existsSync(join(top, f)), `${f} is in the archive`)
    }
    // one application file: no TypeScript sources and no tsx travel
    assert.equal(existsSync(join(top, "app", "node_modules", "tsx")), false)
    assert.match(readFileSync(join(top, "README.md"), "utf8"), /NVIDIA driver/)
    assert.equal(JSON.parse(readFileSync(join(top, "MANIFEST.json"), "utf8")).node, process.version)
  })

  it("runs ./run.sh --help from the unpacked folder", () => {
    const top = join(unpacked, "fleuve")
    const r = spawnSync("./run.sh", ["--help"], { cwd: top, env: cleanEnv, encoding: "utf8" })
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /gpu-bundle/)
    assert.match(r.stdout, /import-scores/)
  })

  it("lands a pipeline's rows and queries them (DuckDB's native binding and the SQL migrations travel)", () => {
    const db = join(dir, "w.duckdb")
    const land = spawnSync(join(unpacked, "fleuve", "run.sh"), ["run", "sample-scores", "--warehouse", db], { cwd: dir, env: cleanEnv, encoding: "utf8" })
    assert.equal(land.status, 0, land.stderr)
    const r = spawnSync(join(unpacked, "fleuve", "run.sh"), ["query", "--warehouse", db, "SELECT 40 + 2 AS answer, count(*) > 0 AS landed FROM scores"], { cwd: dir, env: cleanEnv, encoding: "utf8" })
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /42\s+true/)
  })

  it("plans a study from its YAML file: the packages loaded at run time (yaml with the first config file) travel", () => {
    const r = spawnSync(join(unpacked, "fleuve", "run.sh"), ["study", join(root, "studies", "demo.yaml"), "--dry-run", "--warehouse", join(dir, "study.duckdb"), "--out", join(dir, "study-out")], { cwd: dir, env: cleanEnv, encoding: "utf8" })
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout + r.stderr, /work left: 16 of 16 steps/)
  })

  it("trains LoRA steps on the host: tfjs' gradients travel in the bundle (no esbuild, no node_modules there)", () => {
    const out = join(dir, "adapter")
    const r = spawnSync(join(unpacked, "fleuve", "run.sh"), ["train", "lora", "--model", tinyDir, "--data", join(tinyDir, "corpus.txt"), "--out", out, "--seq-len", "16",
      "--steps", "2", "--micro-batch", "1", "--grad-accum", "2", "--r", "2", "--alpha", "4", "--targets", "q_proj,v_proj", "--backend", "cpu"], { cwd: dir, env: cleanEnv, encoding: "utf8" })
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stderr, /step 2\/2 {2}loss [\d.]+/)
    assert.ok(existsSync(join(out, "final", "adapter_model.safetensors")))
  })

  it("loads dawn.node with the bundled Vulkan loader", () => {
    const top = join(unpacked, "fleuve")
    const r = spawnSync(join(top, "bin", "node"), ["--input-type=module", "-e", "const w = await import('./app/node_modules/webgpu/index.js'); console.log(typeof w.create, typeof w.globals)"], {
      cwd: top,
      env: { ...cleanEnv, LD_LIBRARY_PATH: join(top, "lib") },
      encoding: "utf8"
    })
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout.trim(), "function object")
  })

  it("refuses an archive name it cannot compress, naming the flag", () => {
    const r = spawnSync(process.execPath, [join(root, "bin", "fleuve.mjs"), "gpu-bundle", "--out", join(dir, "x.zip")], { cwd: root, encoding: "utf8" })
    assert.notEqual(r.status, 0)
    assert.match(r.stderr, /--out .*x\.zip: name it \.tar\.xz or \.tar\.gz/)
  })
})
