/**
 * bench/corpus/fleuve-run.ts compiled by esbuild into one ES module, as bin/compiled-cli.mjs
 * compiles the CLI: packages stay external but the pure-JavaScript ones of BUNDLED_PACKAGES
 * (effect, apache-arrow, …), and each module's import.meta.url / dirname / filename is its source
 * file's, so files read next to a module (SQL, the language-id texts, the
 * corpus worker module) are found where they are. Built before the timed runs.
 */
import { join, resolve } from "node:path"
// @ts-expect-error: a plain .mjs without types (the CLI's own start-up compiler)
import { bundledPackagesOnly, sourceLocation, sourceLocationDefine } from "../../bin/compiled-cli.mjs"

const root = resolve(import.meta.dirname, "../..")

export const compileFleuveRun = async (outDir: string): Promise<string> => {
  const esbuild = await import("esbuild")
  const outfile = join(outDir, "fleuve-run.mjs")
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: [join(root, "bench/corpus/fleuve-run.ts")],
    outfile,
    bundle: true,
    format: "esm",
    platform: "node",
    target: `node${process.versions.node.split(".")[0]}`,
    logLevel: "silent",
    define: sourceLocationDefine,
    plugins: [bundledPackagesOnly, sourceLocation]
  })
  return outfile
}
