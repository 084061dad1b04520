import { Effect, Layer } from "effect"
import { spawn, spawnSync } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { EmbeddedRuntime } from "../../pipelines/runtime/embedded.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"

/** A fresh directory under the OS temp dir for one test. */
export const tempDir = (prefix = "fleuve-test-") => mkdtempSync(join(tmpdir(), prefix))

/** A path to a new DuckDB file (not yet created). */
export const tempWarehousePath = () => join(tempDir(), "warehouse.duckdb")

/** Runs an effect against a real DuckDB file with the embedded runtime. */
export const runWithWarehouse = <A, E>(path: string, effect: Effect.Effect<A, E, Warehouse | import("../../pipelines/runtime/runtime.ts").PipelineRuntime>) =>
  Effect.runPromise(effect.pipe(Effect.provide(Layer.mergeAll(Warehouse.layer(path), EmbeddedRuntime))) as Effect.Effect<A, E, never>)

const bin = resolve(import.meta.dirname, "../../bin/fleuve.mjs")

/**
 * Runs the real CLI in a child process, as a user would. A command that does not end within
 * `timeoutMs` (default 5 minutes) is killed and reported with code -1 and `hung: true`, so a hang
 * fails its test instead of stalling the suite.
 */
export const runCli = (args: ReadonlyArray<string>, options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}) => {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: options.cwd ?? process.cwd(),
    env: { ...process.env, ...options.env },
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    timeout: options.timeoutMs ?? 300_000
  })
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, hung: r.signal !== null }
}

/**
 * `runCli` without blocking this process: for tests that serve something (an HTTP judge) the
 * command talks to — a synchronous spawn would stop the server from answering.
 */
export const runCliAsync = (args: ReadonlyArray<string>, options: { cwd?: string; env?: Record<string, string> } = {}) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolveRun) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: options.cwd ?? process.cwd(), env: { ...process.env, ...options.env } })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.on("close", (code) => resolveRun({ code: code ?? -1, stdout, stderr }))
  })
