import * as tf from "@tensorflow/tfjs-core"
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"

/**
 * Registers tfjs-core's gradient functions. tfjs-core's Node bundle leaves them out and its ESM
 * sources cannot load in Node as shipped (extensionless imports), so we bundle
 * `register_all_gradients` once with esbuild into a cached module and import it. The gradients
 * register into tfjs's global registry, which every copy of tfjs-core shares. A bundled fleuve
 * (esbuild, for GPU hosts) imports them statically instead and this finds them already there.
 */
let registered: Promise<void> | undefined

export const ensureGradients = (): Promise<void> => {
  registered ??= (async () => {
    if (tf.getGradient("BatchMatMul") !== undefined) return
    const require = createRequire(import.meta.url)
    const entry = require.resolve("@tensorflow/tfjs-core/dist/register_all_gradients.js")
    const dir = process.env.FLEUVE_CACHE ?? join(tmpdir(), "fleuve-cache")
    const file = join(dir, `tfjs-gradients-${tf.version_core}.mjs`)
    if (!existsSync(file)) {
      const { build } = await import("esbuild")
      const out = await build({ entryPoints: [entry], bundle: true, format: "esm", platform: "node", write: false, logLevel: "silent" })
      mkdirSync(dir, { recursive: true })
      const tmp = `${file}.${process.pid}.tmp`
      writeFileSync(tmp, out.outputFiles[0]!.text)
      // Rename is atomic: concurrent test processes never import a half-written file.
      renameSync(tmp, file)
    }
    await import(pathToFileURL(file).href)
  })()
  return registered
}
