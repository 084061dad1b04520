import assert from "node:assert/strict"
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { test } from "node:test"
import { runCli, tempDir } from "../helpers/warehouse.ts"

/**
 * Issue 20 item 10: `fleuve query` opened the warehouse read-write (locking out every other
 * process) and created a new, empty file for a mistyped --warehouse.
 */
test("query: a missing warehouse is an error and no file appears", () => {
  const db = join(tempDir(), "mistyped.duckdb")
  const r = runCli(["query", "--warehouse", db, "SELECT 1"])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /no warehouse at .*mistyped\.duckdb/)
  assert.equal(existsSync(db), false)
})

test("query is read-only by default, --write changes data (recorded as a run); a notebook's read-only connection blocks neither reader", async () => {
  const db = join(tempDir(), "w.duckdb")
  assert.equal(runCli(["run", "sample-scores", "--warehouse", db]).code, 0)
  const refused = runCli(["query", "--warehouse", db, "DELETE FROM scores WHERE system = 'Meditron-7B'"])
  assert.equal(refused.code, 1)
  assert.match(refused.stderr, /read-only/)
  const written = runCli(["query", "--warehouse", db, "--write", "DELETE FROM scores WHERE system = 'Meditron-7B'"])
  assert.equal(written.code, 0, written.stderr)

  // A second process holds a read-only connection, as a notebook would, for the rest of the test.
  const notebook = spawn(process.execPath, ["-e", `
    const { DuckDBInstance } = require("@duckdb/node-api");
    DuckDBInstance.create(process.argv[1], { access_mode: "READ_ONLY" }).then(async (i) => {
      const c = await i.connect();
      await c.run("SELECT count(*) FROM scores");
      // Kept reachable: a collected instance closes and drops its lock.
      globalThis.held = [i, c];
      console.log("holding");
      setInterval(() => globalThis.held.length, 1000);
    });`, db], { stdio: ["ignore", "pipe", "inherit"] })
  try {
    await new Promise<void>((resolve, reject) => {
      notebook.stdout!.on("data", (d: Buffer) => d.toString().includes("holding") && resolve())
      notebook.once("exit", (code) => reject(new Error(`the notebook process exited ${code}`)))
    })
    const q = runCli(["query", "--warehouse", db, "--format", "json", "SELECT count(*)::INTEGER AS n, count(*) FILTER (WHERE system = 'Meditron-7B')::INTEGER AS gone FROM scores"])
    assert.equal(q.code, 0, q.stderr)
    assert.deepEqual(JSON.parse(q.stdout), [{ n: 6240 - 780, gone: 0 }])
    const runs = runCli(["query", "--warehouse", db, "--format", "json", "SELECT command, status FROM runs ORDER BY started_at"])
    assert.deepEqual(JSON.parse(runs.stdout), [{ command: "run sample-scores", status: "succeeded" }, { command: "query --write", status: "succeeded" }])
    // A writer still needs the file to itself: it says who holds it.
    const w = runCli(["query", "--warehouse", db, "--write", "SELECT 1"])
    assert.equal(w.code, 1)
    assert.match(w.stderr, /Conflicting lock/)
  } finally {
    notebook.kill("SIGKILL")
  }
})
