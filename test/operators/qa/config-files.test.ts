import assert from "node:assert/strict"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { test } from "node:test"
import { Effect } from "effect"
import { DEFAULT_RUBRIC, loadRubric } from "../../../operators/qa/judge/judge.ts"
import { readManifest, SAMPLE_MANIFEST } from "../../../operators/qa/loaders/manifest.ts"
import { DEFAULT_PROMPTS, loadPromptSet } from "../../../operators/qa/prompts/templates.ts"
import { tempDir } from "../../helpers/warehouse.ts"

const withChange = (path: string, change: (o: Record<string, any>) => void) => {
  const o = JSON.parse(readFileSync(path, "utf8"))
  change(o)
  const out = join(tempDir(), path.split("/").pop()!)
  writeFileSync(out, JSON.stringify(o))
  return out
}
const message = (f: () => unknown) => {
  try {
    f()
    return "no error"
  } catch (e) {
    return (e as Error).message
  }
}

// Issue 20 item 2: these files were decoded without their unknown keys being errors.
test("prompt sets, rubrics and manifests are decoded strictly: unknown keys (with the nearest name) and wrong types name the file and key", async () => {
  // The bundled files decode as they are.
  assert.ok(loadPromptSet().version)
  assert.ok(loadRubric().version)
  assert.ok((await Effect.runPromise(readManifest(SAMPLE_MANIFEST))).name)

  const prompts = withChange(DEFAULT_PROMPTS, (o) => {
    o.tasks.mcqa.instrution = o.tasks.mcqa.instruction
  })
  assert.match(message(() => loadPromptSet(prompts)), /enmed-fr\.json:\d+: tasks\.mcqa\.instrution: unknown key \(did you mean 'instruction'\?\)/)
  const badType = withChange(DEFAULT_PROMPTS, (o) => {
    o.separator = 3
  })
  assert.match(message(() => loadPromptSet(badType)), /separator: Expected string, got 3/)

  const rubric = withChange(DEFAULT_RUBRIC, (o) => {
    o.rubrik = o.rubric
    delete o.rubric
  })
  const m = message(() => loadRubric(rubric))
  assert.match(m, /judge-fr\.json:\d+: .*rubrik: unknown key \(did you mean 'rubric'\?\)/)
  assert.match(m, /rubric: Missing key/)

  const manifest = withChange(SAMPLE_MANIFEST, (o) => {
    const task = Object.keys(o.tasks)[0]!
    o.tasks[task].trian = "x.json"
  })
  const failure = await Effect.runPromise(Effect.flip(readManifest(manifest)))
  assert.match(failure.message, /\.json:\d+: tasks\.\w+\.trian: unknown key \(did you mean 'train'\?\)/)
  assert.match(message(() => loadPromptSet(join(tempDir(), "missing.json"))), /missing\.json: cannot read: no such file/)
})
