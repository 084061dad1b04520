import assert from "node:assert/strict"
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { test } from "node:test"
import { NODE_FLAGS } from "../../bin/node-flags.mjs"

const root = join(import.meta.dirname, "..", "..")
const launcher = join(root, "bin", "fleuve.mjs")

test("bin/fleuve.mjs starts node with bin/node-flags.mjs's flags, and runs when executed directly (as npx does)", () => {
  const first = readFileSync(launcher, "utf8").split("\n")[0]
  assert.equal(first, `#!/usr/bin/env -S node ${NODE_FLAGS.join(" ")}`)
  // Executed through its first line (env -S splits the flags), not as `node bin/fleuve.mjs`: the
  // young generation it asked for is what V8 reports in the child.
  const probe = spawnSync(launcher, ["--version"], { encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "" } })
  assert.equal(probe.status, 0, probe.stderr)
  assert.match(probe.stdout, /^fleuve v\d/)
})

test("the semi-space size in NODE_FLAGS reaches V8: the young generation can grow past its default", () => {
  const semi = NODE_FLAGS.find((f) => f.startsWith("--max-semi-space-size="))
  assert.ok(semi, "NODE_FLAGS sets the young generation's semi-space size")
  const mb = Number(semi.split("=")[1])
  // Allocate with a live set large enough that V8 grows new space to its maximum, then read it.
  const script = "const keep=[];for(let r=0;r<30;r++){const b=[];for(let i=0;i<40000;i++)b.push({a:'x'+i,b:[i]});keep[r%2]=b}" +
    "const s=require('v8').getHeapSpaceStatistics().find((x)=>x.space_name==='new_space');console.log(s.space_size)"
  const withFlags = spawnSync(process.execPath, [...NODE_FLAGS, "-e", script], { encoding: "utf8" })
  const without = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" })
  assert.equal(withFlags.status, 0, withFlags.stderr)
  const grown = Number(withFlags.stdout.trim())
  const base = Number(without.stdout.trim())
  assert.ok(grown > base, `new space ${grown} bytes with ${semi}, ${base} without`)
  assert.ok(grown <= 3 * mb * 1024 * 1024, `new space ${grown} bytes: at most three semi-spaces of ${mb} MB`)
})
