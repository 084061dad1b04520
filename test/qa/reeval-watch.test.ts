import assert from "node:assert/strict"
import { spawn } from "node:child_process"
import { cpSync, readFileSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { test } from "node:test"
import { tempDir, tempWarehousePath } from "../helpers/warehouse.ts"

const bin = resolve(import.meta.dirname, "../../bin/fleuve.mjs")

/** Resolves with the next stdout line matching `pattern`, or rejects after `ms`. */
const nextLine = (lines: Array<string>, wait: { notify?: () => void }, pattern: RegExp, ms: number) =>
  new Promise<string>((resolveLine, reject) => {
    const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${ms} ms; got:\n${lines.join("\n")}`)), ms)
    const check = () => {
      const i = lines.findIndex((l) => pattern.test(l))
      if (i === -1) return
      clearTimeout(timer)
      wait.notify = undefined
      resolveLine(lines.splice(0, i + 1).at(-1)!)
    }
    wait.notify = check
    check()
  })

test("reeval --watch re-scores exactly the items changed while it runs", { timeout: 240_000 }, async () => {
  const dir = tempDir("fleuve-watch-")
  cpSync(resolve(import.meta.dirname, "../../data/qa"), dir, { recursive: true })
  const manifest = join(dir, "enmed-sample.json")
  const db = tempWarehousePath()
  const child = spawn(process.execPath, [bin, "reeval", "--watch", "--interval", "1", "--manifest", manifest, "--tasks", "mcqa", "--shots", "0", "--warehouse", db], {
    stdio: ["ignore", "pipe", "pipe"]
  })
  const lines: Array<string> = []
  const wait: { notify?: () => void } = {}
  let buffer = ""
  child.stdout.on("data", (chunk: Buffer) => {
    buffer += chunk.toString("utf8")
    const parts = buffer.split("\n")
    buffer = parts.pop()!
    lines.push(...parts)
    wait.notify?.()
  })
  let stderr = ""
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")))
  try {
    const first = await nextLine(lines, wait, /^reeval /, 150_000)
    assert.match(first, /mcqa 200 request\(s\) scored/, stderr)
    // Edit 3 of the 200 MCQA items while the watcher runs.
    const file = join(dir, "mcqa", "test.jsonl")
    const rows = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)
    for (const i of [4, 17, 42]) rows[i]!.question = `${String(rows[i]!.question)} (reformulée)`
    writeFileSync(file, rows.map((r) => JSON.stringify(r)).join("\n") + "\n")
    const second = await nextLine(lines, wait, /^reeval /, 60_000)
    assert.match(second, /mcqa 3 request\(s\) scored/, stderr)
    assert.match(second, /197 already current/)
  } finally {
    child.kill("SIGTERM")
  }
})
