import { dirname, resolve } from "node:path"
import { fileURLToPath } from "node:url"

/** Where the bundled sample data lives (a module of its own: CLI flags show it as a default without loading the loaders). */
export const SAMPLE_MANIFEST = resolve(dirname(fileURLToPath(import.meta.url)), "../../../data/qa/enmed-sample.json")
