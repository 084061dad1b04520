import { listValue } from "@duckdb/node-api"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import { stagingName } from "./staging.ts"
import { stagedSql, Warehouse } from "./warehouse.ts"

export interface StoredItem {
  readonly task: string
  readonly itemId: string
  readonly contentHash: string
  readonly payload: unknown
}

export interface ItemDiff {
  readonly added: ReadonlyArray<string>
  readonly changed: ReadonlyArray<string>
  readonly removed: ReadonlyArray<string>
  readonly unchanged: number
}

/** Version of a dataset: sha256 over its items' ids and content hashes, in id order. */
export const datasetVersionOf = (items: ReadonlyArray<{ readonly itemId: string; readonly contentHash: string }>) =>
  createHash("sha256").update([...items].sort((a, b) => (a.itemId < b.itemId ? -1 : 1)).map((i) => `${i.itemId}\0${i.contentHash}`).join("\n")).digest("hex")

/**
 * Items of each dataset (table items, keyed by task, item id and dataset; dataset_version holds
 * the dataset name) and what changed since the last run, by content hash.
 */
export const ItemStore = {
  diff: (dataset: string, items: ReadonlyArray<StoredItem>) =>
    Effect.gen(function*() {
      const w = yield* Warehouse
      const rows = yield* w.query<{ item_id: string; content_hash: string }>(
        "SELECT item_id, content_hash FROM items WHERE dataset_version = $1 AND NOT retired",
        [dataset]
      )
      const known = new Map(rows.map((r) => [r.item_id, r.content_hash]))
      const incoming = new Set(items.map((i) => i.itemId))
      const added: Array<string> = []
      const changed: Array<string> = []
      let unchanged = 0
      for (const i of items) {
        const h = known.get(i.itemId)
        if (h === undefined) added.push(i.itemId)
        else if (h !== i.contentHash) changed.push(i.itemId)
        else unchanged++
      }
      const removed = [...known.keys()].filter((id) => !incoming.has(id)).sort()
      return { added, changed, removed, unchanged } satisfies ItemDiff
    }),

  /** Records the dataset as it is now: items upserted, removed ones retired, history kept. */
  apply: (runId: string, dataset: string, task: string, source: string, items: ReadonlyArray<StoredItem>, removed: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const w = yield* Warehouse
      const item_staging = stagingName("item_staging")
      yield* w.exec(`CREATE OR REPLACE TEMP TABLE ${item_staging} (task VARCHAR, item_id VARCHAR, dataset_version VARCHAR, content_hash VARCHAR, payload JSON)`)
      yield* w.append(item_staging, items.map((i) => [i.task, i.itemId, dataset, i.contentHash, JSON.stringify(i.payload)]))
      yield* w.exec(stagedSql("items", item_staging), [runId])
      if (removed.length > 0) {
        yield* w.exec("UPDATE items SET retired = true WHERE dataset_version = $1 AND item_id IN (SELECT unnest($2::VARCHAR[]))", [dataset, listValue([...removed])])
      }
      yield* w.exec(`INSERT INTO datasets (dataset, version, task, item_count, source) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, [
        dataset,
        datasetVersionOf(items),
        task,
        items.length,
        source
      ])
      yield* w.exec(`DROP TABLE ${item_staging}`)
    })
}
