import assert from "node:assert/strict"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { test } from "node:test"
import { checkVegaLiteConfig, readThemeFile } from "../../report/theme.ts"
import { tempDir } from "../helpers/warehouse.ts"

// Issue 20 item 2: `fleuve report --config` took any JSON object; a misspelled key was ignored.
test("a report theme is checked against Vega-Lite's schema: unknown keys with the nearest name, wrong types and ranges", () => {
  assert.deepEqual(checkVegaLiteConfig(JSON.parse(readFileSync(join(import.meta.dirname, "../../report/theme.json"), "utf8"))), [])
  const file = join(tempDir(), "theme.json")
  writeFileSync(file, JSON.stringify({ axis: { labelFontSise: 12 }, padding: "8", legend: { orient: "middle" }, title: { fontSize: -1 } }))
  let message = ""
  try {
    readThemeFile(file)
  } catch (e) {
    message = (e as Error).message
  }
  assert.ok(message.startsWith(`${file}: `), message)
  assert.match(message, /axis\.labelFontSise: unknown key \(did you mean 'labelFontSize'\?\)/)
  assert.match(message, /padding: expected number or object, got "8"/)
  assert.match(message, /legend\.orient: expected one of .*got "middle"/)
  assert.match(message, /title\.fontSize: must be at least 0, got -1/)
  writeFileSync(file, JSON.stringify({ axis: { labelFontSize: 12 }, background: "#fff" }))
  assert.deepEqual(readThemeFile(file), { axis: { labelFontSize: 12 }, background: "#fff" })
})
