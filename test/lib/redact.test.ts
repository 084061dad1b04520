import assert from "node:assert/strict"
import { test } from "node:test"
import * as Redacted from "effect/Redacted"
import { redact, redactValue, splitUrlCredentials } from "../../lib/redact.ts"
import { describeSettings, settingsFrom } from "../../pipelines/kafka/settings.ts"
import { Effect } from "effect"
import { kafkaSettingsConfig } from "../../pipelines/kafka/settings.ts"

test("redact: credentials in URLs, secret query parameters, Authorization and api-key values", () => {
  const cases: Array<[string, string]> = [
    ["http://user:SECRET@judge:8000/v1", "http://user:<redacted>@judge:8000/v1"],
    ["fetch https://sk-SECRET@api.example.com/x failed", "fetch https://<redacted>@api.example.com/x failed"],
    ["GET https://h/x?api_key=SECRET&n=1", "GET https://h/x?api_key=<redacted>&n=1"],
    ["https://h/x?token=SECRET", "https://h/x?token=<redacted>"],
    ["Authorization: Bearer SECRET", "Authorization: Bearer <redacted>"],
    ['{"authorization":"Basic U0VDUkVU"}', '{"authorization":"Basic <redacted>"}'],
    ["x-api-key: SECRET", "x-api-key: <redacted>"],
    ["api-key=SECRET", "api-key=<redacted>"],
    ["sent bearer SECRET.tok", "sent bearer <redacted>"],
    ["bad credentials: Basic dXNlcjpTRUNSRVQ=", "bad credentials: Basic <redacted>"],
    ["no secret in http://host:8000/v1/chat/completions", "no secret in http://host:8000/v1/chat/completions"]
  ]
  for (const [input, expected] of cases) assert.equal(redact(input), expected, input)
})

test("redactValue: nested arguments, secret-named fields and Redacted values", () => {
  const args = {
    judgeUrl: { _tag: "Some", value: "http://u:SECRET@h" },
    judgeApiKey: { _tag: "Some", value: Redacted.make("SECRET") },
    password: "SECRET",
    token: Redacted.make("SECRET"),
    shots: [0, 3],
    nested: { urls: ["https://a:SECRET@b/c"], emptyToken: "" }
  }
  const out = JSON.stringify(redactValue(args))
  assert.doesNotMatch(out, /SECRET/)
  assert.deepEqual(JSON.parse(out), {
    judgeUrl: { _tag: "Some", value: "http://u:<redacted>@h" },
    judgeApiKey: "<redacted>",
    password: "<redacted>",
    token: "<redacted>",
    shots: [0, 3],
    nested: { urls: ["https://a:<redacted>@b/c"], emptyToken: "" }
  })
})

test("splitUrlCredentials: the URL without them, and the user and password (decoded)", () => {
  assert.deepEqual(splitUrlCredentials("http://user:SE%40CRET@host:8000"), { url: "http://host:8000", username: "user", password: "SE@CRET" })
  assert.deepEqual(splitUrlCredentials("https://u:p@r/apis/ccompat/v7"), { url: "https://r/apis/ccompat/v7", username: "u", password: "p" })
  assert.deepEqual(splitUrlCredentials("http://host:8000/"), { url: "http://host:8000/" })
  assert.deepEqual(splitUrlCredentials("not a url"), { url: "not a url" })
})

test("Kafka settings: a registry URL's credentials become its basic auth and never print", async () => {
  const env = await Effect.runPromise(Effect.gen(function*() {
    return yield* kafkaSettingsConfig
  }))
  const s = settingsFrom({ ...env, registryUrl: "http://reg:SECRET@127.0.0.1:18081/apis/ccompat/v7/" })
  assert.equal(s.registryUrl, "http://127.0.0.1:18081/apis/ccompat/v7")
  assert.equal(s.registryAuth?.username, "reg")
  assert.equal(Redacted.value(s.registryAuth!.password), "SECRET")
  assert.doesNotMatch(describeSettings(s), /SECRET/)
  assert.doesNotMatch(JSON.stringify(s), /SECRET/)
})
