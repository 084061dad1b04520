import { listValue } from "@duckdb/node-api"
import { Effect } from "effect"
import type { Prediction } from "../schemas/evaluation.ts"
import { stagingName } from "./staging.ts"
import { stagedSql, Warehouse } from "./warehouse.ts"

export interface CachedPrediction {
  readonly cacheKey: string
  readonly output: string | undefined
  readonly options: Prediction["options"]
  readonly truncatedTokens: number | undefined
}

export interface CacheEntry {
  readonly prediction: Prediction
  readonly kind: "loglikelihood" | "generate"
  readonly itemHash: string
}

/** The prediction cache (table prediction_cache): lookups by full cache key only. */
export const PredictionCache = {
  /** Each cell's current prediction key for `system` ("task|shots|item_id|dataset_version" → key): what a rerun compares against. */
  currentKeys: (system: string) =>
    Effect.gen(function*() {
      const w = yield* Warehouse
      const rows = yield* w.query<{ k: string; cache_key: string }>(
        "SELECT task || '|' || shots || '|' || item_id || '|' || dataset_version AS k, cache_key FROM predictions WHERE system = $1",
        [system]
      )
      return new Map(rows.map((r) => [r.k, r.cache_key]))
    }),
  get: (keys: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      if (keys.length === 0) return new Map<string, CachedPrediction>()
      const w = yield* Warehouse
      const rows = yield* w.query<{ cache_key: string; output: string | null; options: string | null; truncated_tokens: number | null }>(
        `SELECT cache_key, output, options::VARCHAR AS options, truncated_tokens FROM prediction_cache WHERE cache_key IN (SELECT unnest($1::VARCHAR[]))`,
        [listValue([...keys])]
      )
      return new Map(rows.map((r) => [r.cache_key, {
        cacheKey: r.cache_key,
        output: r.output ?? undefined,
        options: r.options ? JSON.parse(r.options) : undefined,
        truncatedTokens: r.truncated_tokens ?? undefined
      } satisfies CachedPrediction]))
    }),
  /** Stores new predictions in the cache and records each as its system's current prediction. */
  put: (entries: ReadonlyArray<CacheEntry>) =>
    Effect.gen(function*() {
      if (entries.length === 0) return
      const w = yield* Warehouse
      const prediction_cache_staging = stagingName("prediction_cache_staging")
      yield* w.exec(`CREATE OR REPLACE TEMP TABLE ${prediction_cache_staging} AS SELECT '' AS system, * EXCLUDE (created_at) FROM prediction_cache LIMIT 0`)
      yield* w.append(prediction_cache_staging, entries.map(({ prediction: p, kind, itemHash }) => [
        p.system, p.cacheKey, p.modelId, p.modelRevision, p.adapterHash, kind, p.task, p.shots, p.itemId, itemHash, p.datasetVersion, p.promptHash, p.decodingHash,
        p.output ?? null, p.options ? JSON.stringify(p.options) : null, p.truncatedTokens ?? null
      ]))
      yield* w.exec(stagedSql("predictions", prediction_cache_staging))
      yield* w.exec(`DROP TABLE ${prediction_cache_staging}`)
    })
}
