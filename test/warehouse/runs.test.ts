import assert from "node:assert/strict"
import { spawn } from "node:child_process"
import { existsSync, writeFileSync } from "node:fs"
import { hostname } from "node:os"
import { join } from "node:path"
import { test } from "node:test"
import { Deferred, Effect, Fiber } from "effect"
import { Runs } from "../../warehouse/runs.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"
import { repoRoot } from "../helpers/paths.ts"
import { runCli, runWithWarehouse, tempDir, tempWarehousePath } from "../helpers/warehouse.ts"

type RunRow = { run_id: string; command: string; status: string; pid: number | null; host: string | null; summary: string | null; finished: boolean }
const runs = (db: string) =>
  runWithWarehouse(db, Effect.gen(function*() {
    const w = yield* Warehouse
    return yield* w.query<RunRow>("SELECT run_id, command, status, pid, host, summary::VARCHAR AS summary, finished_at IS NOT NULL AS finished FROM runs ORDER BY started_at, run_id")
  }))

test("a run whose process was SIGKILLed is marked interrupted at the next start; live and foreign ones are left alone", async () => {
  const db = tempWarehousePath()
  const child = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "test/helpers/hold-run.ts"), db, "killed-run"], { stdio: ["ignore", "pipe", "inherit"] })
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => d.toString().includes("started") && resolve())
    child.once("exit", (code) => reject(new Error(`hold-run exited ${code}`)))
  })
  // Killed with the warehouse open: the next opener replays its write-ahead log.
  child.kill("SIGKILL")
  await new Promise((r) => child.once("exit", r))
  const before = await runs(db)
  assert.deepEqual(before.map((r) => [r.run_id, r.status, r.pid, r.host]), [["killed-run", "running", child.pid, hostname()]])
  await runWithWarehouse(db, Effect.gen(function*() {
    const w = yield* Warehouse
    // A run of a process on another host cannot be checked from here: it stays as it is.
    yield* w.exec("INSERT INTO runs (run_id, command, started_at, status, pid, host) VALUES ('elsewhere', 'x', current_timestamp, 'running', 1, 'another-host')")
    yield* Runs.start("next", "next", {})
    yield* Runs.finish("next", "succeeded", {})
  }))
  const after = await runs(db)
  const byId = new Map(after.map((r) => [r.run_id, r]))
  assert.equal(byId.get("killed-run")!.status, "interrupted")
  assert.ok(byId.get("killed-run")!.finished)
  assert.match(byId.get("killed-run")!.summary ?? "", new RegExp(`process ${child.pid} on ${hostname()} was gone`))
  assert.equal(byId.get("elsewhere")!.status, "running")
  assert.equal(byId.get("next")!.status, "succeeded")
})

test("settle: a body that fails leaves a failed run with its (redacted) error; an interrupted one, interrupted", async () => {
  const db = tempWarehousePath()
  await runWithWarehouse(db, Effect.gen(function*() {
    yield* Runs.record("fails", {}, () => Effect.fail({ message: "cannot reach http://u:SECRET@judge" })).pipe(Effect.ignore)
    const started = yield* Deferred.make<void>()
    const fiber = yield* Effect.forkChild(Runs.record("interrupted", {}, () => Deferred.succeed(started, undefined).pipe(Effect.andThen(Effect.never))))
    yield* Deferred.await(started)
    yield* Fiber.interrupt(fiber)
    yield* Runs.record("works", { apiKey: "SECRET" }, () => Effect.succeed(1))
  }))
  const rows = await runs(db)
  assert.deepEqual(rows.map((r) => [r.command, r.status, r.finished]), [["fails", "failed", true], ["interrupted", "interrupted", true], ["works", "succeeded", true]])
  assert.match(rows[0]!.summary!, /cannot reach http:\/\/u:<redacted>@judge/)
  const args = await runWithWarehouse(db, Effect.gen(function*() {
    return yield* (yield* Warehouse).query<{ a: string }>("SELECT args::VARCHAR AS a FROM runs WHERE command = 'works'")
  }))
  assert.equal(args[0]!.a, '{"apiKey":"<redacted>"}')
})

test("a rejected strict import, analyze and report each leave a run with their final status", () => {
  const dir = tempDir()
  const db = join(dir, "w.duckdb")
  const bad = join(dir, "bad.csv")
  writeFileSync(bad, "system,task,shots,item_id,dataset_version,metric,score\nA,mcqa,0,q1,v1,acc,1\nA,mcqa,zero,q2,v1,acc,1\n")
  const imp = runCli(["import-scores", bad, "--warehouse", db])
  assert.equal(imp.code, 1)
  assert.match(imp.stderr, /nothing was imported/)
  assert.equal(runCli(["run", "sample-scores", "--warehouse", db]).code, 0)
  const analyze = runCli(["analyze", "--warehouse", db, "--reference", "Qwen3-14B-vanilla"])
  assert.equal(analyze.code, 0, analyze.stderr)
  const report = runCli(["report", "--warehouse", db, "--out", join(dir, "report")])
  assert.equal(report.code, 0, report.stderr)
  const q = runCli(["query", "--warehouse", db, "--format", "json", "SELECT command, status, summary->>'error' AS error FROM runs ORDER BY started_at"])
  const rows = JSON.parse(q.stdout) as Array<{ command: string; status: string; error: string | null }>
  assert.deepEqual(rows.map((r) => [r.command, r.status]), [["import-scores", "failed"], ["run sample-scores", "succeeded"], ["analyze", "succeeded"], ["report", "succeeded"]])
  assert.match(rows[0]!.error ?? "", /bad\.csv: 1 bad row\(s\); nothing was imported/)
})

test("analyze and report on a warehouse that does not exist: an error, and no file is created", () => {
  const db = join(tempDir(), "mistyped.duckdb")
  for (const args of [["analyze", "--warehouse", db, "--reference", "A"], ["report", "--warehouse", db, "--out", join(tempDir(), "r")]]) {
    const r = runCli(args)
    assert.equal(r.code, 1, args[0])
    assert.match(r.stderr, /no warehouse at .*mistyped\.duckdb/)
    assert.equal(existsSync(db), false)
  }
})
