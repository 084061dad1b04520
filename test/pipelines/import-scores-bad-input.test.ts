import assert from "node:assert/strict"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { test } from "node:test"
import { Effect } from "effect"
import { importScores } from "../../pipelines/import-scores.ts"
import { parseShotList } from "../../pipelines/evaluate/shots.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"
import { runWithWarehouse, tempDir, tempWarehousePath } from "../helpers/warehouse.ts"

const HEADER = "system,task,shots,item_id,score"
const importFile = (file: string, keepGoing: boolean, warehouse = tempWarehousePath()) =>
  runWithWarehouse(warehouse, importScores(file, { keepGoing }).pipe(Effect.result))
const failureMessage = async (file: string, keepGoing = false) => {
  const r = await importFile(file, keepGoing)
  assert.equal(r._tag, "Failure", `${file} was imported`)
  return (r as { failure: { message: string } }).failure.message
}
const write = (name: string, content: string | Buffer) => {
  const file = join(tempDir(), name)
  writeFileSync(file, content)
  return file
}

// Issue 20 item 4, end to end: with --keep-going, a stray quote on line 2 of a CSV turned every
// following row into one dead letter (the reader test covers 20,000 rows). Now only line 2 is rejected.
test("keep-going import of a 2,000-row CSV with a stray quote on line 2 lands the other 1,999 rows", async () => {
  const rows = Array.from({ length: 2_000 }, (_, i) => `sysA,mcqa,0,q${i},${i % 2}`)
  rows[0] = `sysA,mcqa,0,"q0,1`
  const r = await importFile(write("stray.csv", `${HEADER}\n${rows.join("\n")}\n`), true)
  assert.equal(r._tag, "Success")
  const summary = (r as { success: { landed: number; rejected: number; deadLetters: ReadonlyArray<{ position: unknown; reason: string }> } }).success
  assert.equal(summary.landed, 1_999)
  assert.equal(summary.rejected, 1)
  assert.equal((summary.deadLetters[0]!.position as { line: number }).line, 2)
  assert.match(summary.deadLetters[0]!.reason, /unterminated quoted field/)
})

// Issue 20 item 9: silent coercions.
test("a duplicate CSV column is an error naming the column (the last value used to win)", async () => {
  const message = await failureMessage(write("dup.csv", `system,task,shots,item_id,score,score\nsysA,mcqa,0,q1,1,0\n`), true)
  assert.match(message, /dup\.csv: .*column 'score' appears twice in the header \(columns 5 and 6\)/)
})

test("shots must be a decimal integer: 0x10 and 1e1 are rejected, not read as 16 and 10", async () => {
  const file = write("shots.csv", `${HEADER}\nsysA,mcqa,0x10,q1,1\nsysA,mcqa,1e1,q2,1\nsysA,mcqa,5,q3,1\n`)
  const message = await failureMessage(file)
  assert.match(message, /shots\.csv:2 .*non-integer shots '0x10' \(expected a decimal integer/)
  assert.match(message, /shots\.csv:3 .*non-integer shots '1e1'/)
  assert.deepEqual(parseShotList("0,3,5"), [0, 3, 5])
  for (const bad of ["0x10", "1e1", "0,1.5", "-1", "", "0b11"]) assert.equal(parseShotList(bad), undefined, bad)
})

test("a NUL byte inside item_id is rejected, not kept in the key", async () => {
  const message = await failureMessage(write("nul-id.jsonl", `${JSON.stringify({ system: "s", task: "mcqa", shots: 0, item_id: "q1\u0000x", score: 1 })}\n`))
  assert.match(message, /nul-id\.jsonl:1 .*'item_id' contains the control character U\+0000/)
})

test("an empty file, a header alone or a file of NUL bytes is 'no rows' (strict: an error), never a silent success", async () => {
  assert.match(await failureMessage(write("header.csv", `${HEADER}\n`)), /header\.csv: no rows: the file holds no data rows/)
  assert.match(await failureMessage(write("empty.jsonl", "")), /empty\.jsonl: no rows/)
  assert.match(await failureMessage(write("nul.csv", Buffer.alloc(4096))), /nul\.csv: .*the header holds NUL bytes: not a CSV text file/)
  // With --keep-going the import goes through, and says it landed nothing.
  const kept = await importFile(write("header2.csv", `${HEADER}\n`), true)
  assert.equal(kept._tag, "Success")
  assert.equal((kept as { success: { rowsRead: number } }).success.rowsRead, 0)
})

test("an empty or truncated Parquet file is a clear error naming the file, not a DataView RangeError", async () => {
  const empty = await failureMessage(write("empty.parquet", ""))
  assert.match(empty, /cannot read Parquet .*empty\.parquet: the file is empty/)
  assert.doesNotMatch(empty, /RangeError|DataView/)
  assert.match(await failureMessage(write("junk.parquet", "this is not parquet at all")), /junk\.parquet: not a Parquet file/)
})

test("the warehouse holds nothing after a failed strict import", async () => {
  const warehouse = tempWarehousePath()
  await importFile(write("header3.csv", `${HEADER}\n`), false, warehouse)
  const [n] = await runWithWarehouse(warehouse, Effect.gen(function*() {
    return yield* (yield* Warehouse).query<{ n: number }>("SELECT count(*) AS n FROM scores")
  }))
  assert.equal(n!.n, 0)
})
