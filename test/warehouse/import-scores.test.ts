import assert from "node:assert/strict"
import { describe, test } from "node:test"
import { Effect } from "effect"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { importScores } from "../../pipelines/import-scores.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"
import { runCli, runWithWarehouse, tempDir, tempWarehousePath } from "../helpers/warehouse.ts"

const good = (i: number) => ({ system: "sysA", task: "mcqa", shots: 0, item_id: `q${i}`, score: i % 2 })
const jsonl = (rows: ReadonlyArray<unknown>) => rows.map((r) => (typeof r === "string" ? r : JSON.stringify(r))).join("\n") + "\n"

interface BadCase {
  readonly name: string
  readonly file: string
  readonly content: string | Buffer
  readonly line: number
  readonly field?: string
  readonly reason: RegExp
}

// Each file has good rows on lines 1-2 and 4, and one bad row on line 3 (CSV: header on line 1).
const badCases: ReadonlyArray<BadCase> = [
  { name: "missing value", file: "a.jsonl", content: jsonl([good(1), good(2), { ...good(3), score: null }, good(4)]), line: 3, field: "score", reason: /missing value for 'score'/ },
  { name: "missing column", file: "b.jsonl", content: jsonl([good(1), good(2), { system: "sysA", task: "mcqa", shots: 0, score: 1 }, good(4)]), line: 3, field: "item_id", reason: /missing column 'item_id'/ },
  { name: "non-numeric score", file: "c.csv", content: "system,task,shots,item_id,score\nsysA,mcqa,0,q1,1\nsysA,mcqa,0,q2,abc\nsysA,mcqa,0,q3,0\nsysA,mcqa,0,q4,1\n", line: 3, field: "score", reason: /non-numeric score 'abc'/ },
  { name: "non-finite score", file: "d.jsonl", content: jsonl([good(1), good(2), `{"system":"sysA","task":"mcqa","shots":0,"item_id":"q3","score":1e999}`, good(4)]), line: 3, field: "score", reason: /non-finite score/ },
  { name: "NaN score in CSV", file: "e.csv", content: "system,task,shots,item_id,score\nsysA,mcqa,0,q1,1\nsysA,mcqa,0,q2,NaN\nsysA,mcqa,0,q3,0\nsysA,mcqa,0,q4,1\n", line: 3, field: "score", reason: /non-finite score 'NaN'/ },
  { name: "non-integer shots", file: "f.jsonl", content: jsonl([good(1), good(2), { ...good(3), shots: 1.5 }, good(4)]), line: 3, field: "shots", reason: /non-integer shots '1.5'/ },
  { name: "same key, different score", file: "g.jsonl", content: jsonl([good(1), good(2), { ...good(1), score: 0.5 }, good(4)]), line: 3, field: "score", reason: /same key as .*g\.jsonl:1 with a different score/ },
  { name: "invalid UTF-8", file: "h.jsonl", content: Buffer.concat([Buffer.from(jsonl([good(1), good(2)])), Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d, 0x0a]), Buffer.from(jsonl([good(4)]))]), line: 3, reason: /invalid UTF-8 at byte 2/ },
  { name: "malformed JSON", file: "i.jsonl", content: jsonl([good(1), good(2), `{"system": "sysA", "task": `, good(4)]), line: 3, reason: /malformed JSON/ },
  { name: "JSON line that is not an object", file: "j.jsonl", content: jsonl([good(1), good(2), `[1, 2, 3]`, good(4)]), line: 3, reason: /expected a JSON object, got an array/ },
  { name: "CSV row with a wrong field count", file: "k.csv", content: "system,task,shots,item_id,score\nsysA,mcqa,0,q1,1\nsysA,mcqa,0,q2\nsysA,mcqa,0,q3,0\nsysA,mcqa,0,q4,1\n", line: 3, reason: /expected 5 fields/ }
]

const countScores = Effect.gen(function*() {
  const w = yield* Warehouse
  const [r] = yield* w.query<{ n: number }>("SELECT count(*) AS n FROM scores")
  return r!.n
})

describe("import-scores: every kind of bad row", () => {
  for (const c of badCases) {
    test(`${c.name}: strict fails naming file, line and field, and nothing lands`, async () => {
      const dir = tempDir()
      const file = join(dir, c.file)
      writeFileSync(file, c.content)
      const db = tempWarehousePath()
      const outcome = await runWithWarehouse(db, Effect.result(importScores(file, { keepGoing: false })))
      assert.equal(outcome._tag, "Failure")
      const message = outcome._tag === "Failure" ? (outcome.failure as { message: string }).message : ""
      assert.match(message, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:${c.line}`))
      if (c.field) assert.match(message, new RegExp(`field '${c.field}'`))
      assert.match(message, c.reason)
      assert.match(message, /nothing was imported/)
      assert.equal(await runWithWarehouse(db, countScores), 0)
    })

    test(`${c.name}: --keep-going lands the valid rows and keeps the bad one with its line and reason`, async () => {
      const dir = tempDir()
      const file = join(dir, c.file)
      writeFileSync(file, c.content)
      const db = tempWarehousePath()
      const summary = await runWithWarehouse(db, importScores(file, { keepGoing: true }))
      assert.equal(summary.rejected, 1)
      assert.equal(summary.landed, 3)
      const dead = await runWithWarehouse(db, Effect.gen(function*() {
        const w = yield* Warehouse
        return yield* w.query<{ position: string; field: string | null; reason: string; run_id: string }>("SELECT position, field, reason, run_id FROM dead_letters")
      }))
      assert.equal(dead.length, 1)
      assert.equal(dead[0]!.position, `${file}:${c.line}`)
      assert.equal(dead[0]!.field, c.field ?? null)
      assert.match(dead[0]!.reason, c.reason)
      assert.equal(dead[0]!.run_id, summary.runId)
      assert.equal(await runWithWarehouse(db, countScores), 3)
    })
  }
})

test("re-importing the same file changes nothing (rows and dead letters)", async () => {
  const dir = tempDir()
  const file = join(dir, "scores.jsonl")
  writeFileSync(file, jsonl([good(1), good(2), { ...good(3), score: "x" }, good(4), good(4)]))
  const db = tempWarehousePath()
  const snapshot = Effect.gen(function*() {
    const w = yield* Warehouse
    return {
      scores: yield* w.query("SELECT system, task, shots, item_id, dataset_version, metric, score, source FROM scores ORDER BY ALL"),
      dead: yield* w.query("SELECT dead_letter_id, position, reason FROM dead_letters ORDER BY ALL")
    }
  })
  const first = await runWithWarehouse(db, importScores(file, { keepGoing: true }))
  assert.deepEqual([first.landed, first.alreadyPresent, first.repeatedRows, first.rejected], [3, 0, 1, 1])
  const before = await runWithWarehouse(db, snapshot)
  const second = await runWithWarehouse(db, importScores(file, { keepGoing: true }))
  assert.deepEqual([second.landed, second.alreadyPresent, second.rejected], [0, 3, 1])
  assert.deepEqual(await runWithWarehouse(db, snapshot), before)
})

test("a key already in the warehouse with a different score is a conflict, never a silent overwrite", async () => {
  const dir = tempDir()
  const a = join(dir, "a.jsonl")
  const b = join(dir, "b.jsonl")
  writeFileSync(a, jsonl([good(1), good(2)]))
  writeFileSync(b, jsonl([{ ...good(1), score: 0.25 }, good(5)]))
  const db = tempWarehousePath()
  await runWithWarehouse(db, importScores(a, { keepGoing: false }))
  const strict = await runWithWarehouse(db, Effect.result(importScores(b, { keepGoing: false })))
  assert.equal(strict._tag, "Failure")
  assert.match(strict._tag === "Failure" ? (strict.failure as { message: string }).message : "", /b\.jsonl:1 field 'score': the warehouse already holds this key with score 1/)
  const kept = await runWithWarehouse(db, importScores(b, { keepGoing: true }))
  assert.deepEqual([kept.landed, kept.rejected], [1, 1])
  const rows = await runWithWarehouse(db, Effect.gen(function*() {
    const w = yield* Warehouse
    return yield* w.query("SELECT item_id, score FROM scores ORDER BY item_id")
  }))
  assert.deepEqual(rows, [{ item_id: "q1", score: 1 }, { item_id: "q2", score: 0 }, { item_id: "q5", score: 1 }])
})

test("CSV with quoted fields (commas, quotes, newlines) and Parquet import the same rows", async () => {
  const dir = tempDir()
  const csv = join(dir, "quoted.csv")
  writeFileSync(csv, `system,task,shots,item_id,score,metric\n"Sys, ""big""",mcqa,3,"q\n1",0.5,acc\nsysB,mcqa,3,q2,1,acc\n`)
  const db = tempWarehousePath()
  const summary = await runWithWarehouse(db, importScores(csv, { keepGoing: false }))
  assert.equal(summary.landed, 2)
  const parquet = join(dir, "scores.parquet")
  const rows = await runWithWarehouse(db, Effect.gen(function*() {
    const w = yield* Warehouse
    yield* w.exec(`COPY (SELECT system, task, shots, item_id || '-pq' AS item_id, score, metric FROM scores) TO '${parquet}' (FORMAT parquet)`)
    return yield* w.query("SELECT system, item_id, shots, score FROM scores ORDER BY system")
  }))
  assert.deepEqual(rows, [{ system: "Sys, \"big\"", item_id: "q\n1", shots: 3, score: 0.5 }, { system: "sysB", item_id: "q2", shots: 3, score: 1 }])
  const fromParquet = await runWithWarehouse(db, importScores(parquet, { keepGoing: false }))
  assert.equal(fromParquet.landed, 2)
  assert.equal(fromParquet.rowsRead, 2)
})

test("CLI: a 25,000-row import then query round trip, with --warehouse and FLEUVE_WAREHOUSE", () => {
  const dir = tempDir()
  const file = join(dir, "big.csv")
  const lines = ["system,task,shots,item_id,score,metric,dataset_version"]
  let expectedSum = 0
  for (let i = 0; i < 25000; i++) {
    const score = ((i * 7919) % 1000) / 1000
    expectedSum += score
    lines.push(`sys${i % 5},${["mcqa", "extqa", "absqa"][i % 3]},${[0, 3, 5][i % 3]},item${i},${score},f1,v1`)
  }
  writeFileSync(file, lines.join("\n"))
  const db = join(dir, "w.duckdb")
  const imported = runCli(["import-scores", file, "--warehouse", db])
  assert.equal(imported.code, 0, imported.stderr)
  assert.match(imported.stdout, /25000 rows read, 25000 landed, 0 already present, 0 repeated in file, 0 rejected/)
  const q = runCli(["query", "--format", "json", "SELECT count(*) AS n, sum(score) AS total, count(DISTINCT system) AS systems FROM scores"], { env: { FLEUVE_WAREHOUSE: db } })
  assert.equal(q.code, 0, q.stderr)
  const [row] = JSON.parse(q.stdout)
  assert.equal(row.n, 25000)
  assert.equal(row.systems, 5)
  assert.ok(Math.abs(row.total - expectedSum) < 1e-6)
  const csv = runCli(["query", "--warehouse", db, "--format", "csv", "SELECT system, count(*) AS n FROM scores GROUP BY 1 ORDER BY 1"])
  assert.equal(csv.stdout.trim(), ["system,n", "sys0,5000", "sys1,5000", "sys2,5000", "sys3,5000", "sys4,5000"].join("\n"))
  const again = runCli(["import-scores", file, "--warehouse", db])
  assert.match(again.stdout, /0 landed, 25000 already present/)
})

test("CLI: strict failure exits 1 with a clear message; unknown files and formats are named", () => {
  const dir = tempDir()
  const file = join(dir, "bad.jsonl")
  writeFileSync(file, jsonl([good(1), { ...good(2), shots: "two" }]))
  const db = join(dir, "w.duckdb")
  const r = runCli(["import-scores", file, "--warehouse", db])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /bad\.jsonl:2 field 'shots': non-numeric shots 'two'/)
  const missing = runCli(["import-scores", join(dir, "nope.csv"), "--warehouse", db])
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /nope\.csv: no such file/)
  writeFileSync(join(dir, "x.txt"), "hello")
  const unknown = runCli(["import-scores", join(dir, "x.txt"), "--warehouse", db])
  assert.match(unknown.stderr, /unknown format/)
  const sqlError = runCli(["query", "--warehouse", db, "SELECT * FROM nope"])
  assert.equal(sqlError.code, 1)
  assert.match(sqlError.stderr, /nope/)
})
