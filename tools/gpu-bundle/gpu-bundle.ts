import { spawnSync } from "node:child_process"
import { chmodSync, copyFileSync, cpSync, existsSync, lstatSync, readlinkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { basename, dirname, join, resolve } from "node:path"

/**
 * `fleuve gpu-bundle`: one archive that runs fleuve on an offline GPU host. Layout (top folder
 * `fleuve/`):
 *
 *   run.sh          launcher: LD_LIBRARY_PATH=lib, VK_DRIVER_FILES from the NVIDIA ICD if unset
 *   README.md       what the host needs (NVIDIA driver + its Vulkan ICD) and how to run
 *   MANIFEST.json   versions of everything inside
 *   bin/node        the Node binary that built the bundle (process.execPath)
 *   app/fleuve.mjs  the application, cli/main.ts bundled by esbuild into one ESM file
 *   app/sql, app/migrations   warehouse SQL files, read relative to the bundle (import.meta.url)
 *   app/node_modules/         what esbuild cannot inline: webgpu (dawn.node), DuckDB's binding, kafkajs, yaml (COPIED_PACKAGES)
 *   lib/libvulkan.so.1        the Vulkan loader from Debian's libvulkan1
 *   lib/libGLdispatch.so.0, libGLX.so.0, libEGL.so.1   libglvnd: NVIDIA's Vulkan ICD (libGLX_nvidia)
 *                             finds no vkCreateInstance without it (seen on an H100 host, driver 580)
 */

export class BundleError extends Error {}

export interface BundleOptions {
  readonly out: string
  /** repository root (holds cli/main.ts and node_modules) */
  readonly root: string
  /** libvulkan1 .deb; default: the newest .cache/gpu/libvulkan1_*.deb */
  readonly vulkanDeb?: string
  /** libglvnd .debs (libglvnd0, libglx0, libegl1); default: .cache/gpu/ */
  readonly glvndDebs?: ReadonlyArray<string>
  readonly progress?: (line: string) => void
}

/**
 * Files and folders the application reads next to its own module (import.meta.url / dirname):
 * in the one-file bundle every module's "next to me" is app/, so they are copied there.
 */
const ASSET_DIRS: ReadonlyArray<readonly [from: string, to: string]> = [
  ["warehouse/sql", "sql"],
  ["analysis/sql", "sql"],
  ["warehouse/migrations", "migrations"],
  ["report/font-metrics.json", "font-metrics.json"],
  ["report/theme.json", "theme.json"],
  ["report/figures", "figures"],
  ["report/caveats.sql", "caveats.sql"],
  ["report/provenance.sql", "provenance.sql"],
  ["report/explorer-items.sql", "explorer-items.sql"],
  ["report/explorer-systems.sql", "explorer-systems.sql"],
  ["operators/corpus/language-id", "language-id"],
  // read through lib/asset-path.ts (the source tree's ../../../data is outside the bundle)
  ["data/prompts", "data/prompts"],
  ["data/qa", "data/qa"]
]

/**
 * Packages kept outside the one-file bundle and copied as files (folders copied whole): those with
 * native parts, and kafkajs, which pipelines/kafka/kafkajs-patches.ts loads by a runtime require
 * after replacing some of its internal modules (esbuild cannot inline a require made at run time).
 */
const COPIED_PACKAGES: ReadonlyArray<{ readonly name: string; readonly files: ReadonlyArray<string> }> = [
  { name: "webgpu", files: ["package.json", "index.js", "LICENSE.md", "dist/linux-x64/dawn.node"] },
  { name: "@duckdb/node-bindings-linux-x64", files: ["package.json", "duckdb.node", "libduckdb.so"] },
  { name: "kafkajs", files: ["package.json", "index.js", "LICENSE", "src"] },
  // loaded by schemas/config-file.ts with the first config file read (a runtime require, to keep
  // it out of every command's start-up), which esbuild cannot inline either
  { name: "yaml", files: ["package.json", "dist", "LICENSE"] }
]

const archiveFlag = (out: string): string => {
  if (/\.tar\.xz$|\.txz$/.test(out)) return "-cJf"
  if (/\.tar\.gz$|\.tgz$/.test(out)) return "-czf"
  throw new BundleError(`--out ${out}: name it .tar.xz or .tar.gz`)
}

/** What a bundle imports first so that training works without node_modules (see BUNDLE_ENTRY). */
export const TFJS_GRADIENTS_IMPORTS = `import "@tensorflow/tfjs-core/dist/base_side_effects.js"; import "@tensorflow/tfjs-core/dist/register_all_gradients.js"; `

/**
 * The bundle's entry: tfjs' gradient functions statically — in Node fleuve bundles them at run
 * time with esbuild (model/tfjs/gradients.ts), which a GPU host without node_modules cannot — then
 * the CLI. The gradients come from tfjs-core's ES module sources, a second copy of tfjs-core next
 * to the CommonJS one the rest uses, and esbuild evaluates that copy first, so its engine becomes
 * tfjs' global one: its `base_side_effects` must run too, or its Tensor class has no op handler
 * ("Cannot read properties of null (reading 'cast')" when training — seen on the H100).
 */
export const BUNDLE_ENTRY = TFJS_GRADIENTS_IMPORTS + `import "./cli/main.ts";`

/** The host libraries the bundle carries, as Debian packages. */
export const HOST_PACKAGES = ["libvulkan1", "libglvnd0", "libglx0", "libegl1"] as const

const newestDeb = (root: string, pkg: string): string => {
  const dir = join(root, ".cache", "gpu")
  const debs = existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith(`${pkg}_`) && f.endsWith(".deb")).sort() : []
  if (debs.length === 0) {
    throw new BundleError(`no ${pkg} .deb in .cache/gpu: run scripts/setup/40-libvulkan-deb.sh (apt-get download ${HOST_PACKAGES.join(" ")})`)
  }
  return join(dir, debs.at(-1)!)
}

const run = (cmd: string, args: ReadonlyArray<string>, cwd?: string) => {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8" })
  if (r.error) throw new BundleError(`${cmd}: ${r.error.message}`)
  if (r.status !== 0) throw new BundleError(`${cmd} ${args.join(" ")} failed (exit ${r.status}): ${r.stderr.trim()}`)
  return r.stdout
}

/** Copies a .deb's shared objects (files and their soname links) into `lib`; returns their names. */
const unpackLibs = (deb: string, lib: string): Array<string> => {
  if (!existsSync(deb)) throw new BundleError(`${deb}: no such file`)
  const tmp = mkdtempSync(join(tmpdir(), "fleuve-deb-"))
  try {
    run("dpkg-deb", ["-x", deb, tmp])
    const found = run("find", [tmp, "-name", "*.so.*"]).split("\n").filter(Boolean)
    if (found.length === 0) throw new BundleError(`${deb}: holds no shared objects`)
    for (const f of found) {
      const to = join(lib, basename(f))
      if (existsSync(to)) continue
      if (lstatSync(f).isSymbolicLink()) symlinkSync(basename(readlinkSync(f)), to)
      else copyFileSync(f, to)
    }
    return found.map((f) => basename(f))
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}

const RUN_SH = `#!/bin/sh
# fleuve launcher: the bundled Node runs the bundled app, with the bundled Vulkan loader.
HERE="$(cd "$(dirname "$0")" && pwd)"
export LD_LIBRARY_PATH="$HERE/lib\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# Point the loader at the NVIDIA ICD unless the host already chose one.
if [ -z "\${VK_DRIVER_FILES:-}" ] && [ -z "\${VK_ICD_FILENAMES:-}" ]; then
  for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json \\
           /etc/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.x86_64.json; do
    if [ -f "$f" ]; then export VK_DRIVER_FILES="$f"; break; fi
  done
fi
# Results keep this stdout (fd 3 for fleuve: FLEUVE_RESULTS_FD); fd 1 of the process is stderr, where
# Dawn's native shader-compilation logs then land instead of among the JSONL results.
if [ -z "\${FLEUVE_RESULTS_FD:-}" ]; then
  export FLEUVE_RESULTS_FD=3
  exec "$HERE/bin/node" "$HERE/app/fleuve.mjs" "$@" 3>&1 1>&2
fi
exec "$HERE/bin/node" "$HERE/app/fleuve.mjs" "$@"
`

const readme = (m: Record<string, string>) => `# fleuve for an offline GPU host

Everything fleuve needs is in this folder: Node ${m.node}, the application (one file), Dawn's
\`dawn.node\` (npm webgpu ${m.webgpu}) and the Vulkan loader (libvulkan1 ${m.libvulkan}).

## What the host needs
- Linux x86-64 with glibc (any distribution of the last years).
- The NVIDIA driver with its Vulkan ICD: \`nvidia-smi\` works and a file \`nvidia_icd.json\` exists
  (usually /usr/share/vulkan/icd.d/ or /etc/vulkan/icd.d/). Nothing else: no CUDA, no Python,
  no network.

## Run
    tar -xf fleuve-gpu.tar.xz        # or .tar.gz
    ./fleuve/run.sh --help

\`run.sh\` sets LD_LIBRARY_PATH to \`lib/\` (the bundled Vulkan loader) and, unless you set
VK_DRIVER_FILES (or VK_ICD_FILENAMES) yourself, points it at the first nvidia_icd.json it finds.
If the GPU is not found, set it by hand:

    VK_DRIVER_FILES=/path/to/nvidia_icd.json ./fleuve/run.sh ...

Built ${m.built} from commit ${m.commit}.
`

/** Builds the archive; returns its path and size. */
export const buildGpuBundle = async (options: BundleOptions): Promise<{ out: string; bytes: number; manifest: Record<string, string> }> => {
  const say = options.progress ?? (() => {})
  const root = resolve(options.root)
  const out = resolve(options.out)
  const flag = archiveFlag(out)
  const deb = options.vulkanDeb ? resolve(options.vulkanDeb) : newestDeb(root, "libvulkan1")
  const glvnd = options.glvndDebs ? options.glvndDebs.map((d) => resolve(d)) : HOST_PACKAGES.slice(1).map((p) => newestDeb(root, p))
  const work = mkdtempSync(join(tmpdir(), "fleuve-bundle-"))
  try {
    const top = join(work, "fleuve")
    for (const d of ["bin", "app", "lib"]) mkdirSync(join(top, d), { recursive: true })

    say("bundling cli/main.ts (with tfjs' gradients) with esbuild")
    // esbuild is a build-time tool: loaded only here, so the bundled app never needs it.
    const esbuild = await import("esbuild")
    const result = await esbuild.build({
      stdin: { contents: BUNDLE_ENTRY, resolveDir: root, sourcefile: "fleuve-gpu-entry.ts", loader: "ts" },
      outfile: join(top, "app", "fleuve.mjs"),
      absWorkingDir: root,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      logLevel: "silent",
      external: ["esbuild", "webgpu", "@duckdb/node-bindings-*", "*.node"],
      // CommonJS dependencies call require(); an ESM bundle has none unless we make one.
      banner: { js: "import { createRequire as __fleuveCreateRequire } from 'node:module'; const require = __fleuveCreateRequire(import.meta.url);" }
    }).catch((e: unknown) => {
      throw new BundleError(`esbuild failed: ${e instanceof Error ? e.message : String(e)}`)
    })
    if (result.errors.length > 0) throw new BundleError(`esbuild: ${result.errors.map((e) => e.text).join("; ")}`)

    for (const [from, to] of ASSET_DIRS) {
      if (!existsSync(join(root, from))) throw new BundleError(`${from} is missing (listed in ASSET_DIRS)`)
      cpSync(join(root, from), join(top, "app", to), { recursive: true })
    }
    for (const pkg of COPIED_PACKAGES) {
      const src = join(root, "node_modules", pkg.name)
      if (!existsSync(src)) throw new BundleError(`node_modules/${pkg.name} is missing: run npm ci (webgpu is an optional dependency)`)
      for (const f of pkg.files) {
        const from = join(src, f)
        if (!existsSync(from)) {
          if (f.startsWith("LICENSE")) continue
          throw new BundleError(`node_modules/${pkg.name}/${f} is missing`)
        }
        const to = join(top, "app", "node_modules", pkg.name, f)
        mkdirSync(dirname(to), { recursive: true })
        cpSync(from, to, { recursive: true })
      }
    }

    say(`copying Node ${process.version} from ${process.execPath}`)
    copyFileSync(process.execPath, join(top, "bin", "node"))
    chmodSync(join(top, "bin", "node"), 0o755)

    say(`unpacking the Vulkan loader and libglvnd from ${[deb, ...glvnd].map((d) => basename(d)).join(", ")}`)
    const vk = unpackLibs(deb, join(top, "lib")).find((n) => /^libvulkan\.so\.1\.\d+/.test(n))
    if (!vk) throw new BundleError(`${deb}: holds no libvulkan.so.1.x`)
    const libvulkan = vk.replace(/^libvulkan\.so\./, "")
    for (const d of glvnd) unpackLibs(d, join(top, "lib"))

    const version = (p: string) => JSON.parse(readFileSync(join(root, "node_modules", p, "package.json"), "utf8")).version as string
    const commit = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).stdout?.trim() || "unknown"
    const manifest: Record<string, string> = {
      fleuve: (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version,
      node: process.version,
      webgpu: version("webgpu"),
      duckdb: version("@duckdb/node-bindings-linux-x64"),
      libvulkan,
      commit,
      built: new Date().toISOString()
    }
    writeFileSync(join(top, "MANIFEST.json"), JSON.stringify(manifest, null, 2) + "\n")
    writeFileSync(join(top, "README.md"), readme(manifest))
    writeFileSync(join(top, "run.sh"), RUN_SH)
    chmodSync(join(top, "run.sh"), 0o755)

    say(`writing ${out}`)
    mkdirSync(dirname(out), { recursive: true })
    run("tar", ["-C", work, flag, out, "fleuve"])
    return { out, bytes: statSync(out).size, manifest }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}
