import { existsSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

/**
 * A data file a module reads from the source tree at `fromSource` (relative to the module's folder).
 * In the one-file GPU bundle (`fleuve gpu-bundle`) every module's folder is app/, and the file is
 * copied to app/`bundled` (tools/gpu-bundle/gpu-bundle.ts ASSET_DIRS): the path that exists wins.
 */
export const assetPath = (moduleUrl: string, fromSource: string, bundled: string): string => {
  const here = dirname(fileURLToPath(moduleUrl))
  const inBundle = join(here, bundled)
  return existsSync(inBundle) ? inBundle : resolve(here, fromSource)
}
