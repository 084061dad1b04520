// lm-evaluation-harness's continuation rule for every kind of trailing whitespace: fleuve's log-probs
// equal lm-eval's own (HFLM.loglikelihood on the tiny Qwen3, scripts/fixtures/lm_eval_whitespace.py →
// test/fixtures/lm-eval-whitespace/reference.json) within 1e-4, with the same token split, for
// contexts ending in a space, spaces, a newline, CRLF, a tab, NBSP, U+001F (Python whitespace, not
// JavaScript's) and U+FEFF (JavaScript whitespace, not Python's), on the cpu and wasm backends, and on
// the GPU path (webgpu: tfjs' f32 kernels within 1e-3, fleuve's f16 tensor-core matmul within 2e-2;
// the same token split on both) where a WebGPU device is there — the device host (issue 19).
import * as tf from "@tensorflow/tfjs-core"
import assert from "node:assert/strict"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { moveTrailingWhitespace, pythonRstrip } from "../../lib/python-whitespace.ts"
import { loadModelDir } from "../../model/qwen3/checkpoint.ts"
import { splitContinuation } from "../../model/runtime/scoring-prep.ts"
import { scoreContinuations } from "../../model/runtime/scoring.ts"
import { selectBackend } from "../../model/tfjs/backend.ts"
import { useTensorCoreMatmul } from "../../model/tfjs/webgpu-kernels.ts"
import { tinyDir } from "../helpers/model-fixture.ts"

interface Row {
  readonly case: string
  readonly context: string
  readonly continuation: string
  readonly context_ids: ReadonlyArray<number>
  readonly continuation_ids: ReadonlyArray<number>
  readonly logprob: number
  readonly greedy: boolean
}
const fixtures = process.env.FLEUVE_TEST_FIXTURES ?? join(import.meta.dirname, "..", "fixtures")
const ref = JSON.parse(readFileSync(join(fixtures, "lm-eval-whitespace", "reference.json"), "utf8")) as { rows: ReadonlyArray<Row> }
const TOL = 1e-4

describe("Python's whitespace (str.rstrip)", () => {
  it("strips what Python strips and keeps what it keeps", () => {
    assert.equal(pythonRstrip("a \t\n\r\u000b\u000c\u001c\u001d\u001e\u001f\u0085\u00a0\u2000\u3000"), "a")
    assert.equal(pythonRstrip("a\ufeff"), "a\ufeff", "U+FEFF is not whitespace to Python")
    assert.equal(pythonRstrip("a\u200b"), "a\u200b", "U+200B (zero width space) is not whitespace to Python")
    assert.equal(pythonRstrip("   "), "")
    assert.deepEqual(moveTrailingWhitespace("Réponse :\r\n", "Naloxone"), { context: "Réponse :", continuation: "\r\nNaloxone" })
  })

  it("covers every ending the issue names", () => {
    const cases = new Set(ref.rows.map((r) => r.case))
    for (const c of ["space", "spaces", "newline", "crlf", "tab", "nbsp", "unit-separator", "bom"]) assert.ok(cases.has(c), c)
  })

  it("splits context and continuation into lm-eval's token ids", async () => {
    await selectBackend("cpu")
    const { tokenizer, model } = loadModelDir(tinyDir)
    try {
      for (const r of ref.rows) {
        const s = splitContinuation(tokenizer, r.context, r.continuation)
        assert.deepEqual(s.context, r.context_ids, `${r.case}: context ids of ${JSON.stringify(r.context)}`)
        assert.deepEqual(s.continuation, r.continuation_ids, `${r.case}: continuation ids of ${JSON.stringify(r.continuation)}`)
      }
    } finally {
      model.dispose()
    }
  })
})

// FLEUVE_TEST_GPU_ONLY=1 (the GPU host's bundled tests, which carry no wasm binaries): the webgpu part alone.
for (const backend of process.env.FLEUVE_TEST_GPU_ONLY === "1" ? [] : (["cpu", "wasm"] as const)) {
  describe(`whitespace parity with lm-eval on ${backend}`, () => {
    const loaded: { current?: ReturnType<typeof loadModelDir> } = {}
    before(async () => {
      const choice = await selectBackend(backend)
      assert.equal(choice.backend, backend)
      loaded.current = loadModelDir(tinyDir)
    })
    after(() => loaded.current?.model.dispose())

    it("scores every row within 1e-4 of lm-eval, with its greedy flag", async () => {
      const { model, tokenizer } = loaded.current!
      assert.equal(tf.getBackend(), backend)
      for (const r of ref.rows) {
        const scored = await scoreContinuations(model, tokenizer, r.context, [r.continuation])
        const o = scored.options[0]!
        assert.deepEqual(o.tokenIds, r.continuation_ids, r.case)
        assert.ok(Math.abs(o.logprob - r.logprob) < TOL, `${r.case} ${JSON.stringify(r.context.slice(-4))}+${JSON.stringify(r.continuation)}: fleuve ${o.logprob} vs lm-eval ${r.logprob}`)
        assert.equal(o.greedy, r.greedy, r.case)
      }
    })
  })
}

// The GPU path: selected last (the backends above are done with); skips, saying why, without a WebGPU device.
let webgpuSkip: string | false = false
describe("whitespace parity with lm-eval on webgpu (the GPU path)", () => {
  const loaded: { current?: ReturnType<typeof loadModelDir> } = {}
  before(async () => {
    try {
      await selectBackend("webgpu")
      loaded.current = loadModelDir(tinyDir)
    } catch (e) {
      webgpuSkip = `no WebGPU backend: ${e instanceof Error ? e.message : String(e)}`
    }
  })
  after(() => loaded.current?.model.dispose())

  it("splits every row as lm-eval does and scores it within 1e-3 (tfjs' f32 kernels) and 2e-2 (fleuve's f16 tensor-core matmul)", async (t) => {
    if (webgpuSkip) return t.skip(webgpuSkip)
    const { model, tokenizer } = loaded.current!
    assert.equal(tf.getBackend(), "webgpu")
    for (const [tensorCores, tol] of [[false, 1e-3], [true, 2e-2]] as const) {
      useTensorCoreMatmul(tensorCores)
      for (const r of ref.rows) {
        const scored = await scoreContinuations(model, tokenizer, r.context, [r.continuation])
        const o = scored.options[0]!
        assert.deepEqual(o.tokenIds, r.continuation_ids, r.case)
        assert.ok(Math.abs(o.logprob - r.logprob) < tol, `${tensorCores ? "tensor-core" : "f32"} ${r.case}: fleuve ${o.logprob} vs lm-eval ${r.logprob}`)
        if (!tensorCores) assert.equal(o.greedy, r.greedy, r.case)
      }
    }
    useTensorCoreMatmul(true)
  })
})
