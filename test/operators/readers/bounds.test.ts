import assert from "node:assert/strict"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { test } from "node:test"
import { gzipSync } from "node:zlib"
import { Effect, Stream } from "effect"
import type { Envelope } from "../../../operators/envelope.ts"
import { readCsv } from "../../../operators/readers/csv.ts"
import { readJsonl } from "../../../operators/readers/jsonl.ts"
import { DEFAULT_MAX_RECORD_BYTES, MaxRecordBytes, maxRecordBytes } from "../../../operators/readers/limits.ts"
import type { RawRecord } from "../../../operators/readers/raw-record.ts"
import { readQaJson } from "../../../operators/qa/loaders/json-file.ts"
import { tempDir } from "../../helpers/warehouse.ts"

const collect = (s: Stream.Stream<Envelope<RawRecord>, unknown>) => Effect.runPromise(Stream.runCollect(s)).then((c) => [...c])
const line = (e: Envelope<RawRecord>) => (e.position._tag === "File" ? e.position.line : -1)
const unreadableOf = (rows: ReadonlyArray<Envelope<RawRecord>>) =>
  rows.filter((e) => e.value._tag === "Unreadable").map((e) => ({ line: line(e), reason: (e.value as { reason: string }).reason }))

// Issue 20 item 4: a .jsonl.gz expanding to one 600 MB line stalled import-scores for minutes
// (the line was concatenated chunk by chunk, then held whole). Here a 4 MB line against a 1 MiB
// limit: the line is skipped to its end as one dead letter and the next line is read.
test("a line over the maximum record size is one dead letter with its line; the reader goes on", async () => {
  const dir = tempDir()
  const file = join(dir, "huge.jsonl.gz")
  const huge = `{"text":"${"a".repeat(4 * 1024 * 1024)}"}`
  writeFileSync(file, gzipSync(`{"id":1}\n${huge}\n{"id":3}\n`))
  const rows = await collect(readJsonl(file, "read-jsonl", { maxRecordBytes: 1024 * 1024 }))
  assert.deepEqual(rows.map(line), [1, 2, 3])
  assert.equal(rows[0]!.value._tag, "Fields")
  assert.equal(rows[2]!.value._tag, "Fields")
  const [bad] = unreadableOf(rows)
  assert.equal(bad!.line, 2)
  assert.match(bad!.reason, /record of \d+ bytes or more is longer than the maximum record size of 1048576 bytes \(--max-record-bytes, FLEUVE_MAX_RECORD_BYTES\)/)
  assert.ok((rows[1]!.value as { raw: string }).raw.length <= 2000)
  // The same bound applies to CSV records, and a line exactly at the limit is kept.
  const csv = join(dir, "long.csv")
  writeFileSync(csv, `a,b\n1,${"x".repeat(5000)}\n2,${"y".repeat(97)}\n`)
  const csvRows = await collect(readCsv(csv, "read-csv", { maxRecordBytes: 100 }))
  assert.deepEqual(unreadableOf(csvRows).map((r) => r.line), [2])
  assert.deepEqual(csvRows.filter((e) => e.value._tag === "Fields").map(line), [3])
})

test("FLEUVE_MAX_RECORD_BYTES sets the limit (16 MiB by default) and must be a positive integer", () => {
  const saved = process.env.FLEUVE_MAX_RECORD_BYTES
  try {
    delete process.env.FLEUVE_MAX_RECORD_BYTES
    assert.equal(maxRecordBytes(), DEFAULT_MAX_RECORD_BYTES)
    assert.equal(DEFAULT_MAX_RECORD_BYTES, 16 * 1024 * 1024)
    process.env.FLEUVE_MAX_RECORD_BYTES = "4096"
    assert.equal(maxRecordBytes(), 4096)
    for (const bad of ["0", "-1", "1e6", "0x10", "abc"]) {
      process.env.FLEUVE_MAX_RECORD_BYTES = bad
      assert.throws(() => maxRecordBytes(), /FLEUVE_MAX_RECORD_BYTES must be a positive integer/)
    }
  } finally {
    if (saved === undefined) delete process.env.FLEUVE_MAX_RECORD_BYTES
    else process.env.FLEUVE_MAX_RECORD_BYTES = saved
  }
})

// Issue 20 item 4: one stray quote on line 2 of a 20,000-row CSV took 87 s (the open record was
// re-split from its start at every following line) and, with --keep-going, every following row
// became part of one dead letter. Now the record is parsed line by line once, the quote that never
// closes is one dead letter at its line, and the rows after it are read as rows.
test("a stray quote in a 20,000-row CSV is one dead letter at its line; every other row is read", async () => {
  const file = join(tempDir(), "stray.csv")
  const rows = Array.from({ length: 20_000 }, (_, i) => `sysA,mcqa,0,q${i},${i % 2}`)
  rows[0] = `sysA,mcqa,0,"q0,1`
  writeFileSync(file, `system,task,shots,item_id,score\n${rows.join("\n")}\n`)
  const read = await collect(readCsv(file))
  assert.deepEqual(unreadableOf(read), [{ line: 2, reason: "unterminated quoted field: the quote opened on this line is not closed within the file; the lines after it are read as records" }])
  const good = read.filter((e) => e.value._tag === "Fields")
  assert.equal(good.length, 19_999)
  assert.equal(line(good[0]!), 3)
  assert.deepEqual((good[0]!.value as { fields: Record<string, unknown> }).fields, { system: "sysA", task: "mcqa", shots: "0", item_id: "q1", score: "1" })
})

test("quoted CSV fields still span lines, double their quotes and hold separators", async () => {
  const file = join(tempDir(), "quoted.csv")
  writeFileSync(file, `id,text\n1,"a, ""quoted""\nsecond line"\n2,plain\n3,"ends on last line\n`)
  const read = await collect(readCsv(file))
  assert.deepEqual(read.filter((e) => e.value._tag === "Fields").map((e) => [line(e), (e.value as { fields: Record<string, unknown> }).fields.text]), [
    [2, `a, "quoted"\nsecond line`],
    [4, "plain"]
  ])
  assert.deepEqual(unreadableOf(read), [{ line: 5, reason: "unterminated quoted field: the quote opened on this line is never closed" }])
})

// Issue 20 item 6: a `text` array nested 100,000 deep crashed the corpus run with a stack
// overflow (in JSON.stringify, after JSON.parse had coped). It is one dead letter at its line.
test("JSON nested 100,000 deep is one dead letter, in JSON Lines and in .json QA files", async () => {
  const dir = tempDir()
  const deep = `{"id":"deep","text":${"[".repeat(100_000)}${"]".repeat(100_000)}}`
  const file = join(dir, "deep.jsonl")
  writeFileSync(file, `{"id":"a","text":"ok"}\n${deep}\n{"id":"b","text":"[not nested] {really}"}\n`)
  const read = await collect(readJsonl(file))
  assert.deepEqual(unreadableOf(read), [{ line: 2, reason: "JSON nested deeper than 512 levels" }])
  assert.equal(read.filter((e) => e.value._tag === "Fields").length, 2)
  const array = join(dir, "items.json")
  writeFileSync(array, `[\n{"id":"a"},\n${deep}\n]\n`)
  const fromArray = await collect(readQaJson(array))
  assert.deepEqual(unreadableOf(fromArray).map((r) => r.reason), ["JSON nested deeper than 512 levels"])
})

// Issue 20 (hardening 3): readers of QA `.json` files (a JSON array, a nested SQuAD document)
// read the whole file with no bound, whatever its size. Now a .json document over the maximum
// record size is refused naming the file and the limit, before it is read; a `.json` file that
// is JSON Lines after all is read line by line, each line bounded as in .jsonl files.
test(".json QA files over the maximum record size: an array or nested document is an error naming the file and the limit", async () => {
  const dir = tempDir()
  const items = Array.from({ length: 50 }, (_, i) => JSON.stringify({ id: `q${i}`, question: "x".repeat(100), answer: "a" }))
  const array = join(dir, "items.json")
  writeFileSync(array, `[\n${items.join(",\n")}\n]\n`)
  const squad = join(dir, "squad.json")
  writeFileSync(squad, JSON.stringify({ version: "1.1", data: [{ title: "t", paragraphs: [{ context: "c".repeat(8000), qas: [{ id: "s1", question: "q?", answers: [{ text: "c", answer_start: 0 }] }] }] }] }))
  for (const file of [array, squad]) {
    // Under the limit (here the default 16 MiB) both load as before.
    assert.ok((await collect(readQaJson(file))).length > 0)
    const refused = await Effect.runPromise(Effect.flip(Stream.runCollect(readQaJson(file, { maxRecordBytes: 4096 }))))
    assert.match(refused.message, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: a \\.json file of \\d+ bytes is larger than the maximum record size of 4096 bytes \\(--max-record-bytes, FLEUVE_MAX_RECORD_BYTES\\)`))
  }
  // JSON Lines in a .json file: each line is a record, bounded on its own.
  const lines = join(dir, "lines.json")
  writeFileSync(lines, `${items.join("\n")}\n${JSON.stringify({ id: "long", question: "y".repeat(5000) })}\n`)
  const read = await collect(readQaJson(lines, { maxRecordBytes: 4096 }))
  assert.equal(read.filter((e) => e.value._tag === "Fields").length, 50)
  assert.deepEqual(unreadableOf(read).map((r) => r.line), [51])
})

// The command's --max-record-bytes reaches every reader through the MaxRecordBytes reference;
// without it the environment stays the default source.
test("the MaxRecordBytes reference (a command's --max-record-bytes) bounds JSONL, CSV and .json readers", async () => {
  const dir = tempDir()
  const jsonl = join(dir, "rows.jsonl")
  writeFileSync(jsonl, `{"id":1}\n{"id":2,"text":"${"z".repeat(300)}"}\n`)
  const csv = join(dir, "rows.csv")
  writeFileSync(csv, `a,b\n1,2\n3,${"z".repeat(300)}\n`)
  const json = join(dir, "rows.json")
  writeFileSync(json, `[{"id":1,"text":"${"z".repeat(300)}"}]`)
  const withLimit = <A, E>(s: Stream.Stream<A, E>) => Stream.provideService(s, MaxRecordBytes, 200)
  assert.deepEqual(unreadableOf(await collect(withLimit(readJsonl(jsonl)))).map((r) => r.line), [2])
  assert.deepEqual(unreadableOf(await collect(withLimit(readCsv(csv)))).map((r) => r.line), [3])
  const refused = await Effect.runPromise(Effect.flip(Stream.runCollect(withLimit(readQaJson(json)))))
  assert.match(refused.message, /larger than the maximum record size of 200 bytes/)
  // An explicit option still wins over the reference.
  assert.deepEqual(unreadableOf(await collect(Stream.provideService(readJsonl(jsonl, "read-jsonl", { maxRecordBytes: 1000 }), MaxRecordBytes, 200))), [])
  // Without the reference: the environment.
  const saved = process.env.FLEUVE_MAX_RECORD_BYTES
  try {
    process.env.FLEUVE_MAX_RECORD_BYTES = "200"
    assert.deepEqual(unreadableOf(await collect(readJsonl(jsonl))).map((r) => r.line), [2])
  } finally {
    if (saved === undefined) delete process.env.FLEUVE_MAX_RECORD_BYTES
    else process.env.FLEUVE_MAX_RECORD_BYTES = saved
  }
})
