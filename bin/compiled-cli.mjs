// Start-up cache for the CLI: cli/main.ts and everything it imports from this repository, compiled
// by esbuild into .cache/cli/ and reused until one of those sources changes.
//
// Why: loading the TypeScript sources through tsx's module hooks makes every module, effect's and
// the other packages' included, cross to the hooks thread; that alone tripled `fleuve --help`.
// Compiled here, only our sources go through the compiler, once; packages load natively.
//
// Same code, same behaviour as tsx (which is esbuild too): one file per lazily imported module
// (code splitting), packages left external (resolved from node_modules as before) except the
// pure-JavaScript ones every command loads (effect and the few in BUNDLED_PACKAGES), and each
// module's import.meta.url / dirname / filename pointing at its source file, so files read
// "next to the module" (SQL, prompts, sample data) are found where they are.
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const cacheDir = join(root, ".cache", "cli")
const currentFile = join(cacheDir, "current.json")
// Bump when the build options below change: older builds are then ignored.
const FORMAT = 2
// A replaced build is kept this long after its replacement: a running command may still load
// chunks from it (handlers load theirs as they start, so minutes would do).
const KEEP_OLD_BUILDS_MS = 3600 * 1000

/** One hash over the path, size and modification time of every source the build read. */
const signature = (inputs) => {
  const h = createHash("sha256")
  for (const f of inputs) {
    const s = statSync(join(root, f))
    h.update(`${f}\0${s.size}\0${s.mtimeMs}\n`)
  }
  return h.digest("hex")
}

/** The compiled entry point if it is still current, else undefined. */
const current = () => {
  try {
    const c = JSON.parse(readFileSync(currentFile, "utf8"))
    if (c.format !== FORMAT || c.node !== process.versions.node) return undefined
    const entry = join(cacheDir, c.build, "main.js")
    return existsSync(entry) && signature(c.inputs) === c.signature ? entry : undefined
  } catch {
    return undefined // no cache yet, or a source was removed: build again
  }
}

/** Gives every module its own import.meta.url / dirname / filename: its source file, not the chunk. */
export const sourceLocation = {
  name: "source-location",
  setup(build) {
    build.onLoad({ filter: /\.[cm]?[jt]s$/ }, (args) => {
      const source = readFileSync(args.path, "utf8")
      const meta = `const __fleuveMetaUrl = ${JSON.stringify(pathToFileURL(args.path).href)}, __fleuveMetaDirname = ${JSON.stringify(dirname(args.path))}, __fleuveMetaFilename = ${JSON.stringify(args.path)};`
      // On the first line, so line numbers (and the source map) stay those of the source.
      return { contents: meta + source, loader: args.path.endsWith("ts") ? "ts" : "js" }
    })
  }
}

/**
 * Packages compiled into the build instead of loaded from node_modules: pure JavaScript ES
 * modules, no native parts, no require (yaml stays out: its Node build is CommonJS and requires
 * `process`, which an ES module bundle cannot without a `require` of its own). effect alone is ~250 ES modules: Node resolving,
 * reading and linking them one by one took ~170 ms of every start-up (a corpus run on 6 MB spent
 * 420 ms loading modules before its first statement; 250 ms with these bundled, issue 23).
 * @effect/platform-node comes with effect so that one copy of effect is loaded, not two.
 */
export const BUNDLED_PACKAGES = /^(effect|@effect\/platform-node|@effect\/platform-node-shared|apache-arrow|flatbuffers|tslib|json-with-bigint|hyparquet)(\/|$)/

/** Leaves every package external but BUNDLED_PACKAGES (esbuild's `packages: "external"`, with exceptions). */
export const bundledPackagesOnly = {
  name: "bundled-packages-only",
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => (BUNDLED_PACKAGES.test(args.path) ? undefined : { path: args.path, external: true }))
  }
}

/** What `sourceLocation` needs in esbuild's `define`: import.meta's fields read from its constants. */
export const sourceLocationDefine = { "import.meta.url": "__fleuveMetaUrl", "import.meta.dirname": "__fleuveMetaDirname", "import.meta.filename": "__fleuveMetaFilename" }

const build = async () => {
  const esbuild = await import("esbuild")
  const id = `${Date.now().toString(36)}-${process.pid}`
  const outdir = join(cacheDir, id)
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: [join(root, "cli", "main.ts")],
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: `node${process.versions.node.split(".")[0]}`,
    sourcemap: "linked",
    sourcesContent: false,
    metafile: true,
    logLevel: "silent",
    define: sourceLocationDefine,
    plugins: [bundledPackagesOnly, sourceLocation]
  })
  // The sources read, plus what decides how they compile.
  const inputs = [...new Set([...Object.keys(result.metafile.inputs), "tsconfig.json", "package.json"])].filter((f) => existsSync(join(root, f))).sort()
  const record = { format: FORMAT, node: process.versions.node, build: id, inputs, signature: signature(inputs) }
  // The build being replaced: its age now counts from now (see KEEP_OLD_BUILDS_MS).
  try {
    const previous = join(cacheDir, JSON.parse(readFileSync(currentFile, "utf8")).build)
    const now = new Date()
    utimesSync(previous, now, now)
  } catch {
    // no previous build
  }
  // Written then renamed: a process starting meanwhile sees the old record or the new, never half of one.
  const tmp = join(cacheDir, `current.json.${process.pid}`)
  writeFileSync(tmp, JSON.stringify(record))
  renameSync(tmp, currentFile)
  for (const d of readdirSync(cacheDir)) {
    const p = join(cacheDir, d)
    try {
      if (d !== id && statSync(p).isDirectory() && Date.now() - statSync(p).mtimeMs > KEEP_OLD_BUILDS_MS) rmSync(p, { recursive: true, force: true })
    } catch {
      // another process pruned it first
    }
  }
  return join(outdir, "main.js")
}

/**
 * The CLI's entry point to import: the compiled one (built now if a source changed), or undefined
 * when it cannot be built here (read-only checkout, esbuild missing), in which case the caller
 * runs the sources through tsx as before. FLEUVE_TSX=1 forces that path.
 */
export const compiledCli = async () => {
  if (process.env.FLEUVE_TSX === "1") return undefined
  const ready = current()
  if (ready) return ready
  try {
    mkdirSync(cacheDir, { recursive: true })
    return await build()
  } catch {
    // A compile error in the sources shows up, with tsx's message, on the tsx path.
    return undefined
  }
}
