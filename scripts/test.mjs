#!/usr/bin/env node
// The whole test suite: installs what tests need (scripts/setup/*.sh), starts services the
// tests use (scripts/services/*), runs every test/**/*.test.ts with Node's test runner, stops the
// services, and ends with the line `N passed, N failed`.
//
//   node scripts/test.mjs                 all tests
//   node scripts/test.mjs test/warehouse  only files under these paths
//   FLEUVE_SKIP_SETUP=1                   skip the install steps (already done)
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs"
import { join, resolve } from "node:path"

const root = resolve(import.meta.dirname, "..")
process.chdir(root)

const findTests = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? findTests(p) : p.endsWith(".test.ts") ? [p] : []
  })

const args = process.argv.slice(2)
const files = (args.length > 0 ? args : ["test"]).flatMap((a) => (statSync(a).isDirectory() ? findTests(a) : [a])).sort()

const sh = (script, ...rest) => {
  const r = spawnSync("bash", [script, ...rest], { stdio: "inherit" })
  if (r.status !== 0) throw new Error(`${script} ${rest.join(" ")} failed with exit code ${r.status}`)
}

// Install steps are idempotent scripts, one per need (browser, service jars, ...).
if (!process.env.FLEUVE_SKIP_SETUP && existsSync("scripts/setup")) {
  for (const s of readdirSync("scripts/setup").filter((f) => f.endsWith(".sh")).sort()) sh(join("scripts/setup", s))
}

// Services: each scripts/services/<name>.sh understands `start` and `stop`; a test folder named
// in the service's `# serves:` header line needs it.
const services = existsSync("scripts/services")
  ? readdirSync("scripts/services").filter((f) => f.endsWith(".sh")).map((f) => join("scripts/services", f))
  : []
const needed = services.filter((s) => {
  const serves = /# serves: (.*)/.exec(readFileSync(s, "utf8"))?.[1]?.trim().split(/\s+/) ?? []
  return files.some((f) => serves.some((prefix) => f.startsWith(prefix)))
})
const started = []
let failedToStart = false
for (const s of needed) {
  try {
    sh(s, "start")
    started.push(s)
  } catch (e) {
    console.error(String(e))
    failedToStart = true
  }
}

mkdirSync("test-artifacts", { recursive: true })
// Test files that stop, restart or load the one shared broker (faults.test.ts restarts it; the
// worker tests run several processes against it) run one at a time, after the others: two of them
// at once made each other's consumer groups miss their deadlines.
const serial = (f) => f.split(/[\\/]/).includes("kafka")
const batches = [
  { name: "results", files: files.filter((f) => !serial(f)), concurrency: 2 },
  { name: "results-kafka", files: files.filter(serial), concurrency: 1 }
].filter((b) => b.files.length > 0)
const runs = failedToStart
  ? [{ status: 1, tap: undefined }]
  : batches.map((b) => {
    const tap = join("test-artifacts", `${b.name}.tap`)
    const r = spawnSync(
      process.execPath,
      [
        "--import", "tsx",
        // a test file whose process outlives its last test by 20 s fails, naming what holds it open
        "--import", "./test/helpers/exit-promptly.ts",
        "--test",
        `--test-concurrency=${b.concurrency}`,
        "--test-reporter=spec", "--test-reporter-destination=stdout",
        "--test-reporter=tap", `--test-reporter-destination=${tap}`,
        ...b.files
      ],
      { stdio: "inherit", env: { ...process.env, FLEUVE_TEST: "1" } }
    )
    return { status: r.status, tap }
  })

for (const s of started.reverse()) {
  try {
    sh(s, "stop")
  } catch (e) {
    console.error(String(e))
  }
}

const summaries = runs.map((r) => (r.tap && existsSync(r.tap) ? readFileSync(r.tap, "utf8") : ""))
const count = (k) => summaries.reduce((n, summary) => n + Number(new RegExp(`^# ${k} (\\d+)$`, "m").exec(summary)?.[1] ?? 0), 0)
const passed = count("pass")
// A batch that failed without a failing test (a crash, a hang the runner killed) counts as one failure.
const crashed = runs.filter((r, i) => r.status !== 0 && Number(/^# fail (\d+)$/m.exec(summaries[i] ?? "")?.[1] ?? 0) === 0).length
const failed = count("fail") + (failedToStart ? 1 : 0) + (failedToStart ? 0 : crashed)
const skipped = count("skipped")
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`)
process.exit(failed > 0 ? 1 : 0)
