import assert from "node:assert/strict"
import { test } from "node:test"
import { runCli, tempWarehousePath } from "../helpers/warehouse.ts"

test("fleuve --help lists the commands", () => {
  const r = runCli(["--help"])
  assert.equal(r.code, 0, r.stderr)
  for (const c of ["import-scores", "query", "pipelines", "run"]) assert.match(r.stdout, new RegExp(c))
})

test("fleuve run sample-scores lands the grid and query --format json reads it back", () => {
  const db = tempWarehousePath()
  const run = runCli(["run", "sample-scores", "--warehouse", db])
  assert.equal(run.code, 0, run.stderr)
  const q = runCli(["query", "--warehouse", db, "--format", "json", "SELECT count(*) AS n, count(DISTINCT system) AS systems FROM scores"])
  assert.equal(q.code, 0, q.stderr)
  assert.deepEqual(JSON.parse(q.stdout), [{ n: 6240, systems: 8 }])
})
