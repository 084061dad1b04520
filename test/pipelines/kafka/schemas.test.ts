import { Effect, Exit, Redacted } from "effect"
import assert from "node:assert/strict"
import { test } from "node:test"
import { makeSerde, recordType, type RecordType } from "../../../pipelines/kafka/serde.ts"
import { describeSettings } from "../../../pipelines/kafka/settings.ts"
import { runCli, tempWarehousePath } from "../../helpers/warehouse.ts"
import { testSettings, uniqueTag } from "./helpers.ts"

const settings = testSettings()

/** The Score record under a subject of its own, with its registered JSON Schema edited. */
const scoreVariant = (subject: string, edit: (s: { properties: Record<string, unknown>; required: Array<string> }) => void): RecordType => {
  const base = recordType("Score")
  const jsonSchema = structuredClone(base.jsonSchema) as { properties: Record<string, unknown>; required: Array<string> }
  edit(jsonSchema)
  return { ...base, subject, jsonSchema: { ...jsonSchema, title: subject } }
}

test("schema evolution: a new optional field is accepted and old consumers keep reading; a removed required field is refused", async () => {
  const subject = `fleuve.test.${uniqueTag()}.Score`
  const v1 = scoreVariant(subject, () => undefined)
  const v2 = scoreVariant(subject, (s) => {
    s.properties.latencyMs = { type: "number" }
  })
  const broken = scoreVariant(subject, (s) => {
    delete s.properties.metric
    s.required = s.required.filter((f) => f !== "metric")
  })
  const oldSide = makeSerde(settings)
  await Effect.runPromise(oldSide.prepare([v1]))
  const newSide = makeSerde(settings)
  await Effect.runPromise(newSide.prepare([v2]))
  assert.notEqual(newSide.idOf(v2), oldSide.idOf(v1))

  // A record written with v2 (new field) is read by a consumer built with v1: validated by the Effect Schema, extra field ignored.
  const value = { system: "S", task: "mcqa", shots: 0, itemId: "i1", datasetVersion: "v", metric: "acc", score: 1, latencyMs: 12.5 }
  const decoded = await oldSide.decode(v1, newSide.encode(v2, value))
  assert.equal(decoded._tag, "Ok")
  // An old worker restarting after v2 exists still finds its own schema.
  await Effect.runPromise(makeSerde(settings).prepare([v1]))

  const refused = await Effect.runPromiseExit(makeSerde(settings).prepare([broken]))
  assert.ok(Exit.isFailure(refused))
  const message = String(JSON.stringify(refused.cause))
  assert.match(message, /SchemaIncompatible/)
  assert.match(message, /field 'metric' was removed \(required\)/)
})

test("settings never print secrets", () => {
  const s = { ...settings, sasl: { mechanism: "plain" as const, username: "alice", password: Redacted.make("s3cret-pw") }, registryAuth: { username: "bob", password: Redacted.make("r3g-pw") } }
  const text = `${describeSettings(s)} ${JSON.stringify(s)} ${String(s.sasl.password)}`
  assert.doesNotMatch(text, /s3cret-pw|r3g-pw/)
  assert.match(text, /alice/)
})

test("fleuve run --runtime kafka lands the sample grid once; fleuve topics shows zero lag", { timeout: 180000 }, () => {
  const db = tempWarehousePath()
  const env = { FLEUVE_KAFKA_PARTITIONS: "3" }
  const first = runCli(["run", "sample-scores", "--runtime", "kafka", "--warehouse", db], { env })
  assert.equal(first.code, 0, first.stderr)
  const q = runCli(["query", "--warehouse", db, "--format", "json", "SELECT count(*)::INTEGER AS n, count(DISTINCT (system, task, shots, item_id))::INTEGER AS k FROM scores"])
  assert.equal(q.code, 0, q.stderr)
  const [counts] = JSON.parse(q.stdout)
  assert.equal(counts.n, 6240)
  assert.equal(counts.k, 6240)
  const topics = runCli(["topics"])
  assert.equal(topics.code, 0, topics.stderr)
  const landLine = topics.stdout.split("\n").find((l) => l.includes("fleuve.sample-scores.land-scores"))
  assert.ok(landLine, topics.stdout)
  assert.match(landLine!, /\s0$/)

  // Replaying the sink from the beginning re-lands every record: the idempotent sink adds no row.
  const replay = runCli(["replay", "land-scores", "--pipeline", "sample-scores", "--from-beginning", "--warehouse", db], { env })
  assert.equal(replay.code, 0, replay.stderr)
  const after = runCli(["query", "--warehouse", db, "--format", "json", "SELECT count(*)::INTEGER AS n, count(DISTINCT (system, task, shots, item_id))::INTEGER AS k FROM scores"])
  assert.deepEqual(JSON.parse(after.stdout), [{ n: 6240, k: 6240 }])
  // Each landing is a run under the command that did it, ended with its status.
  const runs = runCli(["query", "--warehouse", db, "--format", "json", "SELECT command, status FROM runs ORDER BY started_at"])
  assert.deepEqual(JSON.parse(runs.stdout), [
    { command: "run sample-scores", status: "succeeded" },
    { command: "replay land-scores --pipeline sample-scores", status: "succeeded" }
  ])
  const both = runCli(["replay", "land-scores", "--pipeline", "sample-scores", "--from-beginning", "--from", "2026-11-25T08:00:00Z"])
  assert.equal(both.code, 1)
  assert.match(both.stderr, /not both/)
  const badTime = runCli(["replay", "land-scores", "--pipeline", "sample-scores", "--from", "yesterday"])
  assert.match(badTime.stderr, /'yesterday' is not a date/)
})
