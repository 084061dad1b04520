import assert from "node:assert/strict"
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { test } from "node:test"
import { Effect, Stream } from "effect"
import { readCorpus } from "../../../operators/readers/corpus.ts"
import { tempDir } from "../../helpers/warehouse.ts"

const ids = (path: string) =>
  Effect.runPromise(Stream.runCollect(readCorpus(path))).then((c) => [...c].map((e) => (e.value._tag === "Document" ? e.value.document.id : `unreadable ${e.key}`)))

// Issue 20 item 9: symbolic links in a corpus folder were skipped without a word.
test("a corpus folder's symbolic links are followed, to files and to folders", async () => {
  const root = tempDir()
  const elsewhere = join(root, "elsewhere")
  mkdirSync(join(elsewhere, "sub"), { recursive: true })
  writeFileSync(join(elsewhere, "linked.txt"), "Un document lié.")
  writeFileSync(join(elsewhere, "sub", "deep.txt"), "Un document dans un dossier lié.")
  const corpus = join(root, "corpus")
  mkdirSync(corpus)
  writeFileSync(join(corpus, "a.txt"), "Un document ordinaire.")
  symlinkSync(join(elsewhere, "linked.txt"), join(corpus, "b-link.txt"))
  symlinkSync(join(elsewhere, "sub"), join(corpus, "c-dir"))
  assert.deepEqual(await ids(corpus), ["a.txt", "b-link.txt", join("c-dir", "deep.txt")])
})

test("a symbolic link loop or a broken link is an error naming the link", async () => {
  const root = tempDir()
  const corpus = join(root, "corpus")
  mkdirSync(join(corpus, "inner"), { recursive: true })
  writeFileSync(join(corpus, "inner", "a.txt"), "Texte.")
  symlinkSync(corpus, join(corpus, "inner", "back"))
  const loop = await Effect.runPromise(Effect.flip(Stream.runCollect(readCorpus(corpus))))
  assert.match(loop.message, /inner\/back: symbolic link loop/)
  const broken = join(root, "broken")
  mkdirSync(broken)
  symlinkSync(join(root, "nowhere.txt"), join(broken, "gone.txt"))
  const failure = await Effect.runPromise(Effect.flip(Stream.runCollect(readCorpus(broken))))
  assert.match(failure.message, /gone\.txt: broken symbolic link/)
})
