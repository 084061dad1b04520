import assert from "node:assert/strict"
import { test } from "node:test"
import { runCli } from "../helpers/warehouse.ts"

// Issue 20 item 9: effect's Flag.Int read `--shots 1e1` as 10 shots.
test("count flags take decimal integers only: --shots 1e1 and --sequence-length 1.0 are refused", () => {
  const shots = runCli(["import-lm-eval", "samples.jsonl", "--system", "s", "--shots", "1e1"])
  assert.notEqual(shots.code, 0)
  assert.match(shots.stderr + shots.stdout, /--shots must be a decimal integer, got '1e1'/)
  const seq = runCli(["corpus", "in.jsonl", "--sequence-length", "1.0"])
  assert.notEqual(seq.code, 0)
  assert.match(seq.stderr + seq.stdout, /--sequence-length must be a decimal integer, got '1\.0'/)
})
