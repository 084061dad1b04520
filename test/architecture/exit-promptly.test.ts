// test/helpers/exit-promptly.ts, as scripts/test.mjs loads it: a test file whose process outlives
// its last test fails, naming the timer that holds it and where it was set; one that ends, passes.
import assert from "node:assert/strict"
import { spawnSync } from "node:child_process"
import { join } from "node:path"
import { test } from "node:test"
import { repoRoot as root } from "../helpers/paths.ts"

// The runner's own marker is left out, or the child would take itself for a nested run.
const { NODE_TEST_CONTEXT: _, ...env } = process.env

const runFile = (name: string) =>
  spawnSync(process.execPath, ["--import", "tsx", "--import", "./test/helpers/exit-promptly.ts", "--test", "--test-reporter=spec", join("test/fixtures/exit-promptly", name)], {
    cwd: root,
    encoding: "utf8",
    env: { ...env, FLEUVE_TEST_EXIT_GRACE_MS: "1500" },
    timeout: 60_000
  })

test("a test file still running after its last test fails, naming the 30 s timer it left and where", () => {
  const r = runFile("lingering.mjs")
  const output = r.stdout + r.stderr
  assert.notEqual(r.status, 0, output)
  assert.match(output, /still running 1\.5 s after its last test, held open by \[.*"Timeout".*\]/, output)
  assert.match(output, /a 30000 ms timer set\n\s+at .*lingering\.mjs:4/, output)
})

test("a test file that clears what it started passes", () => {
  const r = runFile("prompt.mjs")
  assert.equal(r.status, 0, r.stdout + r.stderr)
  assert.match(r.stdout, /ℹ pass 1/)
})
