import { Effect, Schema } from "effect"
import { dirname, resolve } from "node:path"
import { readConfigFileSync } from "../../../schemas/config-file.ts"
import type { DeadLetter } from "../../../schemas/dead-letter.ts"
import type { TaskName } from "../../../schemas/common.ts"
import type { LoadedQAItem } from "../../../schemas/qa-record.ts"
import { OperatorFailure } from "../../operator.ts"
import { loadQaFile, QA_FORMATS } from "./index.ts"

/** One task of a manifest: its loader format, test file and training pool. */
export const TaskFiles = Schema.Struct({
  format: Schema.Literals(QA_FORMATS),
  test: Schema.String,
  train: Schema.optional(Schema.String),
  mapping: Schema.optional(Schema.Record(Schema.String, Schema.Unknown))
})

/** A benchmark on disk: per task, its loader format, test file and training pool (paths relative to the manifest). */
export const DatasetManifest = Schema.Struct({
  name: Schema.NonEmptyString,
  description: Schema.optional(Schema.String),
  tasks: Schema.Record(Schema.Literals(["mcqa", "extqa", "absqa"]), TaskFiles)
})
export type DatasetManifest = typeof DatasetManifest.Type

export interface TaskData {
  readonly task: TaskName
  /** Dataset name of the test split, e.g. `enmed-sample/mcqa`; also the scores' dataset_version label. */
  readonly dataset: string
  readonly test: ReadonlyArray<LoadedQAItem>
  readonly train: ReadonlyArray<LoadedQAItem>
  readonly deadLetters: ReadonlyArray<DeadLetter>
}

export const readManifest = (path: string) =>
  Effect.try({
    // Strict: an unknown key (a misspelled "train") is an error with the nearest valid name.
    try: () => readConfigFileSync(DatasetManifest, path),
    catch: (e) => new OperatorFailure({ operator: "read-manifest", message: e instanceof Error ? e.message : String(e) })
  })

/** Loads every task of a manifest (test split and training pool); bad items come back as dead letters. */
export const loadManifest = (path: string, only?: ReadonlyArray<TaskName>) =>
  Effect.gen(function*() {
    const manifest = yield* readManifest(path)
    return { manifest, tasks: yield* loadManifestTasks(manifest, dirname(resolve(path)), path, only) }
  })

/** The tasks of an already-read manifest (a file's, or a study's inline one); paths relative to `base`, `label` names it in errors. */
export const loadManifestTasks = (manifest: DatasetManifest, base: string, label: string, only?: ReadonlyArray<TaskName>) =>
  Effect.gen(function*() {
    const out: Array<TaskData> = []
    for (const [task, files] of Object.entries(manifest.tasks) as Array<[TaskName, typeof TaskFiles.Type]>) {
      if (only && !only.includes(task)) continue
      const mapping = files.mapping as never
      const dataset = `${manifest.name}/${task}`
      const test = yield* loadQaFile(resolve(base, files.test), files.format, { dataset, ...(mapping ? { mapping } : {}) })
      const train = files.train
        ? yield* loadQaFile(resolve(base, files.train), files.format, { dataset: `${dataset}/train`, ...(mapping ? { mapping } : {}) })
        : { items: [], deadLetters: [] }
      const wrongTask = [...test.items, ...train.items].find((i) => i.item.task !== task)
      if (wrongTask) return yield* new OperatorFailure({ operator: "read-manifest", message: `${label}: task ${task} loaded a ${wrongTask.item.task} item (${wrongTask.item.id}); check its format` })
      out.push({ task, dataset, test: test.items, train: train.items, deadLetters: [...test.deadLetters, ...train.deadLetters] })
    }
    return out
  })

export { SAMPLE_MANIFEST } from "./sample-manifest.ts"
