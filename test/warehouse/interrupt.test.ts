import assert from "node:assert/strict"
import { spawnSync } from "node:child_process"
import { join, resolve } from "node:path"
import { test } from "node:test"
import { tempWarehousePath } from "../helpers/warehouse.ts"

const root = resolve(import.meta.dirname, "../..")

// Issue 20 item 1: `fleuve corpus` hung at exit when a source failed while a stage was landing
// dead letters. The stage's fiber was interrupted mid-statement, returned at once, and the
// warehouse closed DuckDB under the running statement; the process then never exited. This
// reproduces it without the race: a statement is interrupted for sure while it runs. Before the
// fix the child hung (3 of 3 runs killed by the timeout); now it exits.
test("interrupting a fiber mid-statement, then closing the warehouse, lets the process exit", () => {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(root, "test/warehouse/fixtures/interrupt-statement.ts"), tempWarehousePath()], {
    cwd: root,
    encoding: "utf8",
    timeout: 60_000
  })
  assert.equal(r.signal, null, `the child hung after closing the warehouse (killed by ${r.signal}); stderr: ${r.stderr}`)
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.stdout.trim(), "closed")
})
