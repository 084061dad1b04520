import assert from "node:assert/strict"
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { test } from "node:test"
import { gzipSync } from "node:zlib"
import { Effect } from "effect"
import { Warehouse } from "../../warehouse/warehouse.ts"
import { runCli, runWithWarehouse, tempDir } from "../helpers/warehouse.ts"

const goodText = (i: number) =>
  `Document ${i} : le suivi clinique du diabète de type deux chez les patients âgés demande une surveillance régulière de la glycémie, ` +
  `de la fonction rénale et de la tension artérielle, avec une adaptation progressive du traitement et une éducation thérapeutique.`

/** The folder of issue 20 item 1: good .txt files, then files that are rejected, then one that cannot be read. */
export const brokenFolder = () => {
  const dir = join(tempDir(), "notes")
  mkdirSync(dir)
  for (let i = 1; i <= 3; i++) writeFileSync(join(dir, `good${i}.txt`), goodText(i))
  writeFileSync(join(dir, "bad-utf8.txt"), Buffer.from([0x61, 0x62, 0xff, 0xfe, 0x20, 0x64, 0x0a]))
  writeFileSync(join(dir, "random.txt"), Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7919 + 13) % 256)))
  writeFileSync(join(dir, "empty.txt"), "")
  const rows = Array.from({ length: 200 }, (_, i) => JSON.stringify({ id: `d${i}`, text: goodText(100 + i) })).join("\n")
  writeFileSync(join(dir, "truncated.jsonl.gz"), gzipSync(rows).subarray(0, 600))
  return dir
}

// Issue 20 item 1: this run hung at exit in 4 of 6 tries before the fix (see
// test/warehouse/interrupt.test.ts for the deterministic reproduction of the cause).
test("fleuve corpus on a folder whose last file cannot be read exits 1 naming the file, and the run is recorded as failed", async () => {
  const dir = brokenFolder()
  const warehouse = join(tempDir(), "w.duckdb")
  const r = runCli(["corpus", dir, "--out", join(tempDir(), "shards"), "--warehouse", warehouse], { timeoutMs: 120_000 })
  assert.equal(r.hung, false, "fleuve corpus hung")
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, /truncated\.jsonl\.gz: .*unexpected end of file/)
  const [runs, dead] = await runWithWarehouse(warehouse, Effect.gen(function*() {
    const w = yield* Warehouse
    return [
      yield* w.query<{ status: string; summary: string }>("SELECT status, summary FROM runs WHERE command = 'corpus'"),
      yield* w.query<{ reason: string; position: string }>("SELECT reason, position FROM dead_letters ORDER BY position")
    ] as const
  }))
  assert.equal(runs.length, 1)
  assert.equal(runs[0]!.status, "failed")
  assert.match(runs[0]!.summary, /truncated\.jsonl\.gz/)
  // The rejected files became dead letters with their reason, before the failure.
  assert.ok(dead.some((d) => /bad-utf8\.txt/.test(d.position) && /invalid UTF-8/.test(d.reason)), JSON.stringify(dead))
})
