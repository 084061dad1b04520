// FLEUVE_RESULTS_FD (cli/results-fd.ts): results on the descriptor the launcher names, anything
// written straight to fd 1 (as Dawn's native compilation logs are, issue 22) kept apart from them.
import assert from "node:assert/strict"
import { spawnSync } from "node:child_process"
import { test } from "node:test"
import { repoRoot } from "../helpers/paths.ts"

const script = `import "./cli/results-fd.ts"; import { writeSync } from "node:fs"; writeSync(1, "native log\\n"); process.stdout.write("{\\"result\\":1}\\n"); process.stdout.write("{\\"result\\":2}\\n"); process.exit(0)`

const run = (env: Record<string, string>) =>
  spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe", "pipe"], encoding: "utf8" })

test("FLEUVE_RESULTS_FD=3: the results go to fd 3, whole, even at process.exit; fd 1 keeps only what bypasses process.stdout", () => {
  const r = run({ FLEUVE_RESULTS_FD: "3" })
  assert.equal(r.status, 0, r.stderr)
  assert.equal((r.output[3] as string), '{"result":1}\n{"result":2}\n')
  assert.equal(r.stdout, "native log\n")
})

test("without it stdout is Node's own; a bad value or a closed descriptor is an error naming it", () => {
  const plain = run({ FLEUVE_RESULTS_FD: "" })
  assert.equal(plain.stdout, 'native log\n{"result":1}\n{"result":2}\n')
  const bad = run({ FLEUVE_RESULTS_FD: "three" })
  assert.equal(bad.status, 2)
  assert.match(bad.stderr, /FLEUVE_RESULTS_FD must be a file descriptor number, not 'three'/)
  const closed = run({ FLEUVE_RESULTS_FD: "250" })
  assert.equal(closed.status, 2)
  assert.match(closed.stderr, /FLEUVE_RESULTS_FD=250 is not an open file descriptor/)
})
