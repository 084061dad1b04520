import assert from "node:assert/strict"
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs"
import { basename, dirname, join } from "node:path"
import { test } from "node:test"
import { Effect } from "effect"
import { CorpusState, type CorpusDocumentRow } from "../../warehouse/corpus-state.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"
import { runWithWarehouse, tempWarehousePath } from "../helpers/warehouse.ts"

// Values that a line-per-row staging file must carry through unchanged: quotes, backslashes,
// newlines, commas, astral characters, a lone surrogate's replacement, numbers at full precision.
const rows: Array<CorpusDocumentRow> = [
  { docId: "a", contentHash: "h1", source: "in.jsonl:1", status: "kept", lang: "fr", langScore: 0.9876543210123457, tokens: 512, bands: ["1z", "abc"] },
  { docId: "b \"quoted\", with\\backslash", contentHash: "h2", source: "dir/é 😀.jsonl:2\nsecond line", status: "duplicate", reason: "near duplicate", duplicateOf: "a", lang: "fr", langScore: 1, tokens: 0, similarity: 0.8125 },
  { docId: "c", contentHash: "h3", source: "in.jsonl:3", status: "dropped", reason: "language en (0.31)" }
]

type Row = { doc_id: string; content_hash: string; source: string; status: string; reason: string | null; duplicate_of: string | null; lang: string | null; lang_score: number | null; tokens: number | null; lsh_bands: string | null; similarity: number | null; first_run: string; last_run: string; retired: boolean }
const read = (db: string) =>
  runWithWarehouse(db, Effect.gen(function*() {
    const w = yield* Warehouse
    return yield* w.query<Row>("SELECT doc_id, content_hash, source, status, reason, duplicate_of, lang, lang_score, tokens, lsh_bands, similarity, first_run, last_run, retired FROM corpus_documents ORDER BY doc_id")
  }))

test("corpus state: a run's decisions land value for value, a re-run updates them and retires what it did not see, no staging file stays", async () => {
  const db = tempWarehousePath()
  await runWithWarehouse(db, CorpusState.save("run-1", rows, rows.map((r) => r.docId)))
  const first = await read(db)
  assert.deepEqual(first, [...rows].sort((x, y) => (x.docId < y.docId ? -1 : 1)).map((r) => ({
    doc_id: r.docId, content_hash: r.contentHash, source: r.source, status: r.status, reason: r.reason ?? null, duplicate_of: r.duplicateOf ?? null,
    lang: r.lang ?? null, lang_score: r.langScore ?? null, tokens: r.tokens ?? null, lsh_bands: r.bands ? r.bands.join(",") : null, similarity: r.similarity ?? null,
    first_run: "run-1", last_run: "run-1", retired: false
  })))
  // The second run sees a (changed) and c, not b.
  await runWithWarehouse(db, CorpusState.save("run-2", [{ ...rows[0]!, contentHash: "h1b", tokens: 7 }], ["a", "c"]))
  const second = new Map((await read(db)).map((r) => [r.doc_id, r]))
  assert.deepEqual([second.get("a")!.content_hash, second.get("a")!.tokens, second.get("a")!.first_run, second.get("a")!.last_run, second.get("a")!.retired], ["h1b", 7, "run-1", "run-2", false])
  assert.equal(second.get(rows[1]!.docId)!.retired, true)
  assert.equal(second.get("c")!.retired, false)
  const known = await runWithWarehouse(db, CorpusState.load)
  assert.deepEqual(known.map((k) => k.docId).sort(), ["a", "c"])
  assert.deepEqual(readdirSync(dirname(db)).filter((f) => f.includes("corpus-state")), [])
})

test("corpus state: a document decided twice in one run (its id repeated) saves its last decision; the staged file reads back the same", async () => {
  const db = tempWarehousePath()
  // c first dropped, then kept: the kept decision stands, at c's first place.
  const twice: Array<CorpusDocumentRow> = [rows[2]!, rows[0]!, { docId: "c", contentHash: "h3b", source: "in.jsonl:9", status: "kept", tokens: 4, bands: ["x"] }]
  await runWithWarehouse(db, CorpusState.save("run-1", twice, ["c", "a"]))
  const got = await read(db)
  assert.deepEqual(got.map((r) => [r.doc_id, r.status, r.content_hash, r.reason, r.tokens]), [["a", "kept", "h1", null, 512], ["c", "kept", "h3b", null, 4]])
  const back = await runWithWarehouse(db, Effect.acquireUseRelease(CorpusState.stage, (staged) => Effect.sync(() => {
    let order = 0
    for (const r of twice) staged.put(order++, r)
    return { rows: staged.read(), repeated: staged.repeated }
  }), (staged) => Effect.sync(() => staged.remove())))
  assert.equal(back.repeated, true)
  assert.deepEqual(back.rows, [twice[2], twice[1]])
  assert.deepEqual(readdirSync(dirname(db)).filter((f) => f.includes("corpus-state")), [])
})

test("corpus state: a killed run's staged folder beside the warehouse is removed by the next run's; another warehouse's stays", async () => {
  const db = tempWarehousePath()
  const dir = dirname(db)
  const stale = join(dir, `.fleuve-corpus-state-${basename(db)}-AbC123`)
  const other = join(dir, ".fleuve-corpus-state-other.duckdb-XyZ789")
  for (const d of [stale, other]) {
    mkdirSync(d)
    writeFileSync(join(d, "documents.jsonl"), "[]\n")
  }
  await runWithWarehouse(db, CorpusState.save("run-1", rows, rows.map((r) => r.docId)))
  assert.equal(existsSync(stale), false)
  assert.equal(existsSync(other), true)
  assert.equal((await read(db)).length, rows.length)
})
