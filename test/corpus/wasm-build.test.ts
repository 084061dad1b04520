import assert from "node:assert/strict"
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { test } from "node:test"
import { minhashWasmBase64 } from "../../operators/corpus/wasm/minhash-wasm.ts"
import { repoRoot } from "../helpers/paths.ts"

test("the committed MinHash WebAssembly is what scripts/build-corpus-kernels.sh builds from its source", () => {
  const dir = mkdtempSync(join(tmpdir(), "fleuve-asc-"))
  try {
    // The script's compiler flags, read from the script itself so the two cannot drift apart.
    const script = readFileSync(join(repoRoot, "scripts/build-corpus-kernels.sh"), "utf8")
    const flags = /npx asc operators\/corpus\/wasm\/minhash\.ts ([^\n]*?)\s*\\\n\s*([^\n]*?) -o/.exec(script)
    assert.ok(flags, "the asc command line of scripts/build-corpus-kernels.sh")
    const out = join(dir, "minhash.wasm")
    execFileSync(join(repoRoot, "node_modules/.bin/asc"), ["operators/corpus/wasm/minhash.ts", ...`${flags[1]} ${flags[2]}`.split(/\s+/).filter(Boolean), "-o", out], { cwd: repoRoot, stdio: "pipe" })
    assert.equal(readFileSync(out).toString("base64"), minhashWasmBase64, "run bash scripts/build-corpus-kernels.sh and commit operators/corpus/wasm/minhash-wasm.ts")
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
