import assert from "node:assert/strict"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { after, before, test } from "node:test"
import { runCli, runCliAsync, tempWarehousePath } from "../helpers/warehouse.ts"

/**
 * Issue 20 item 5: `reeval --judge-url http://user:SECRET@host` stored the secret in every
 * dead letter's reason and exited 0 with no judge score. Credentials in the URL are now sent as
 * Basic authentication, an API key comes from a flag or $FLEUVE_JUDGE_API_KEY, nothing prints or
 * stores either, and a run in which every judge call failed exits 1.
 */
let server: Server
let url = ""
const seen: Array<string | undefined> = []

before(async () => {
  server = createServer((req, res) => {
    req.resume()
    req.on("end", () => {
      const auth = req.headers.authorization
      seen.push(auth)
      const ok = auth === `Basic ${Buffer.from("user:SECRET").toString("base64")}` || auth === "Bearer sk-SECRET"
      // A server that echoes what it got, as some do in their error pages.
      res.writeHead(ok ? 200 : 401, { "content-type": "application/json" })
      res.end(ok ? JSON.stringify({ choices: [{ message: { content: "Note : 4/5" } }] }) : JSON.stringify({ error: `bad credentials: ${auth}` }))
    })
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()))
  url = `127.0.0.1:${(server.address() as AddressInfo).port}`
})
after(() => server.close())

/** Every row of every table as text, in one query (a CLI start costs seconds on a loaded machine). */
const everything = (db: string) => {
  const tables = runCli(["query", "--warehouse", db, "--format", "json", "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"])
  assert.equal(tables.code, 0, tables.stderr)
  const names = (JSON.parse(tables.stdout) as Array<{ table_name: string }>).map((t) => t.table_name)
  const sql = names.map((t) => `SELECT '${t}' AS t, CAST(x AS VARCHAR) AS v FROM "${t}" AS x`).join(" UNION ALL ")
  const r = runCli(["query", "--warehouse", db, "--format", "csv", sql])
  assert.equal(r.code, 0, r.stderr)
  assert.ok(r.stdout.includes("runs"), "the dump covers the runs table")
  return r.stdout
}

const reeval = (db: string, extra: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  runCliAsync(["reeval", "--warehouse", db, "--tasks", "absqa", "--shots", "0", "--systems", "char-3gram", "--limit", "10", "--force", ...extra], { env })

test("credentials in --judge-url are sent as Basic auth, and stored or printed nowhere", async () => {
  const db = tempWarehousePath()
  const r = await reeval(db, ["--judge-url", `http://user:SECRET@${url}`])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /[1-9]\d* score row\(s\) landed, 0 dead letter/)
  assert.ok(seen.includes(`Basic ${Buffer.from("user:SECRET").toString("base64")}`))
  assert.doesNotMatch(r.stdout + r.stderr, /SECRET/)
  assert.equal(everything(db).includes("SECRET"), false, "no table holds the secret")
})

test("the API key from $FLEUVE_JUDGE_API_KEY is sent as Bearer; a run whose every judge call failed exits 1, nothing leaks", async () => {
  const db = tempWarehousePath()
  const good = await reeval(db, ["--judge-url", `http://${url}`], { FLEUVE_JUDGE_API_KEY: "sk-SECRET" })
  assert.equal(good.code, 0, good.stderr)
  assert.ok(seen.includes("Bearer sk-SECRET"))
  // Wrong key: the server refuses (and echoes the header); wrong password in the URL likewise.
  const bad = await reeval(db, ["--judge-url", `http://user:WRONG-SECRET@${url}`, "--judge-api-key", "sk-OTHER-SECRET"])
  assert.equal(bad.code, 1, `every judge call failed, so the run fails:\n${bad.stdout}\n${bad.stderr}`)
  assert.match(bad.stderr, /every judge call failed \((\d+) of \1;/)
  assert.doesNotMatch(bad.stdout + bad.stderr, /SECRET/)
  const runs = runCli(["query", "--warehouse", db, "--format", "json", "SELECT status, summary->>'error' AS error FROM runs ORDER BY started_at"])
  const rows = JSON.parse(runs.stdout) as Array<{ status: string; error: string | null }>
  assert.deepEqual(rows.map((x) => x.status), ["succeeded", "failed"])
  assert.match(rows[1]!.error ?? "", /every judge call failed/)
  assert.equal(everything(db).includes("SECRET"), false, "no table holds the secret")
})

test("--schema-registry with credentials: the start line and the error name the registry without them", () => {
  const r = runCli(
    ["run", "sample-scores", "--runtime", "kafka", "--warehouse", tempWarehousePath(), "--brokers", "127.0.0.1:1", "--schema-registry", "http://reg:SECRET@127.0.0.1:2/apis/ccompat/v7"],
    { env: { FLEUVE_KAFKA_CLIENT_RETRIES: "0" } }
  )
  assert.equal(r.code, 1)
  assert.match(r.stderr, /registry http:\/\/127\.0\.0\.1:2\/apis\/ccompat\/v7 \(user reg\)/)
  assert.match(r.stderr, /fleuve: cannot prepare the cluster/)
  assert.doesNotMatch(r.stdout + r.stderr, /SECRET/)
})
