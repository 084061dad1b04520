/**
 * bench/corpus/fleuve-run.ts compiled by esbuild into one ES module, as bin/compiled-cli.mjs
 * compiles the CLI: packages stay external, and each module's import.meta.url / dirname /
 * filename is its source file's, so files read next to a module (SQL, the language-id texts, the
 * corpus worker module) are found where they are. Built before the timed runs.
 */
import { readFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { pathToFileURL } from "node:url"

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
    packages: "external",
    logLevel: "silent",
    define: { "import.meta.url": "__fleuveMetaUrl", "import.meta.dirname": "__fleuveMetaDirname", "import.meta.filename": "__fleuveMetaFilename" },
    plugins: [{
      name: "source-location",
      setup(build) {
        build.onLoad({ filter: /\.[cm]?[jt]s$/ }, (args) => {
          const source = readFileSync(args.path, "utf8")
          const meta = `const __fleuveMetaUrl = ${JSON.stringify(pathToFileURL(args.path).href)}, __fleuveMetaDirname = ${JSON.stringify(dirname(args.path))}, __fleuveMetaFilename = ${JSON.stringify(args.path)};`
          return { contents: meta + source, loader: args.path.endsWith("ts") ? "ts" : "js" }
        })
      }
    }]
  })
  return outfile
}
