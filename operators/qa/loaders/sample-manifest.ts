import { assetPath } from "../../../lib/asset-path.ts"

/** Where the bundled sample data lives (a module of its own: CLI flags show it as a default without loading the loaders). */
export const SAMPLE_MANIFEST = assetPath(import.meta.url, "../../../data/qa/enmed-sample.json", "data/qa/enmed-sample.json")
