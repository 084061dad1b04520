import assert from "node:assert/strict"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { test } from "node:test"
import { tinyDir } from "../helpers/model-fixture.ts"
import { runCli, tempDir, tempWarehousePath } from "../helpers/warehouse.ts"

// Issue 20 (hardening 3): the maximum record size could be set only by FLEUVE_MAX_RECORD_BYTES.
// Every command that reads records takes --max-record-bytes; the variable stays the default.
test("every command that reads records documents --max-record-bytes in its help", () => {
  for (const command of ["corpus", "import-scores", "import-lm-eval", "reeval", "run", "worker", "model logprobs", "model generate", "study", "demo", "train dapt", "train lora"]) {
    const r = runCli([...command.split(" "), "--help"])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /--max-record-bytes/, `${command} --help`)
    assert.match(r.stdout, /FLEUVE_MAX_RECORD_BYTES/, `${command} --help`)
  }
})

test("import-scores --max-record-bytes makes a longer row a dead letter, over the environment's value; a bad value is refused", () => {
  const file = join(tempDir(), "scores.jsonl")
  const row = (id: string, extra = "") => JSON.stringify({ system: "s", task: "t", shots: 0, item_id: id, score: 1, ...(extra ? { judge: extra } : {}) })
  writeFileSync(file, `${row("a")}\n${row("b", "j".repeat(400))}\n${row("c")}\n`)
  const db = tempWarehousePath()
  const r = runCli(["import-scores", file, "--warehouse", db, "--keep-going", "--max-record-bytes", "300"], { env: { FLEUVE_MAX_RECORD_BYTES: "100000" } })
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /3 rows read, 2 landed/)
  assert.match(r.stderr, /scores\.jsonl:2: record of \d+ bytes or more is longer than the maximum record size of 300 bytes \(--max-record-bytes, FLEUVE_MAX_RECORD_BYTES\)/)
  // Without the flag, the environment's limit applies (here large enough: the row lands).
  const again = runCli(["import-scores", file, "--warehouse", tempWarehousePath(), "--max-record-bytes", "100000"], { env: { FLEUVE_MAX_RECORD_BYTES: "300" } })
  assert.equal(again.code, 0, again.stderr)
  assert.match(again.stdout, /3 rows read, 3 landed/)
  const byEnv = runCli(["import-scores", file, "--warehouse", tempWarehousePath(), "--keep-going"], { env: { FLEUVE_MAX_RECORD_BYTES: "300" } })
  assert.match(byEnv.stdout, /3 rows read, 2 landed/)
  for (const bad of ["0", "1e6", "abc", "-5"]) {
    const refused = runCli(["import-scores", file, "--warehouse", db, `--max-record-bytes=${bad}`])
    assert.notEqual(refused.code, 0)
    assert.match(refused.stderr + refused.stdout, new RegExp(`--max-record-bytes must be a positive decimal integer of bytes, got '${bad}'`))
  }
})

// `model logprobs|generate` read their request file whole (readFileSync) with no bound at all:
// now streamed under the same limit, a longer line named on stderr and skipped (rc 1).
test("model generate --max-record-bytes skips a longer request line, naming it; the others are answered", () => {
  const input = join(tempDir(), "prompts.jsonl")
  writeFileSync(input, `${JSON.stringify({ id: "a", prompt: "Bonjour" })}\n${JSON.stringify({ id: "b", prompt: "x".repeat(500) })}\n${JSON.stringify({ id: "c", prompt: "Merci" })}\n`)
  const r = runCli(["model", "generate", "--model", tinyDir, "--input", input, "--backend", "cpu", "--max-new-tokens", "2", "--max-record-bytes", "200"])
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, /prompts\.jsonl:2: record of \d+ bytes or more is longer than the maximum record size of 200 bytes \(--max-record-bytes, FLEUVE_MAX_RECORD_BYTES\); line skipped/)
  assert.deepEqual(r.stdout.trim().split("\n").map((l) => JSON.parse(l).id), ["a", "c"])
})

test("train dapt reads its data under --max-record-bytes: a longer line is an error naming the file and line, before any step", () => {
  const dir = tempDir()
  const data = join(dir, "corpus.jsonl")
  writeFileSync(data, `${JSON.stringify({ text: "Un court texte." })}\n${JSON.stringify({ text: "mot ".repeat(200) })}\n`)
  const r = runCli(["train", "dapt", "--model", tinyDir, "--data", data, "--out", join(dir, "out"), "--seq-len", "16", "--steps", "1", "--backend", "cpu", "--max-record-bytes", "300"])
  assert.notEqual(r.code, 0, r.stdout)
  assert.match(r.stderr, /corpus\.jsonl:2: record of \d+ bytes or more is longer than the maximum record size of 300 bytes/)
})
