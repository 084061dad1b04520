import assert from "node:assert/strict"
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { test } from "node:test"
import { progressReporter, renderProgress } from "../../cli/progress.ts"
import type { StatsSnapshot } from "../../operators/stats.ts"
import { runCorpus } from "../corpus/helpers.ts"
import { tempDir, tempWarehousePath } from "../helpers/warehouse.ts"

const snap = (name: string, n: number, extra: Partial<StatsSnapshot> = {}): StatsSnapshot => ({
  name, in: n, out: n, rejected: 0, dropped: 0, perSecond: n, mbPerSecond: undefined, elapsedSeconds: 1, etaSeconds: undefined, rejectReasons: {}, dropReasons: {}, ...extra
})

/** A stderr that is not a terminal (a log file, CI), collecting what is written. */
const logStream = () => {
  const lines: Array<string> = []
  return { lines, stream: { isTTY: false, write: (s: string) => (lines.push(...s.trimEnd().split("\n")), true) } as unknown as NodeJS.WriteStream }
}

test("without a TTY: one line per interval with records/s, MB/s and ETA, and a final line when the run ends", () => {
  const { lines, stream } = logStream()
  let t = 0
  const report = progressReporter(stream, () => t)
  for (const [at, n] of [[0.5, 12], [2, 100], [5.2, 300], [7, 400], [10.4, 600]] as const) {
    t = at * 1000
    report([snap("read-corpus", n, { mbPerSecond: 1.25, etaSeconds: (625 - n) / 60, elapsedSeconds: at })])
  }
  t = 11_000
  report([snap("read-corpus", 625, { mbPerSecond: 1.3, etaSeconds: 0, elapsedSeconds: 11 })], true)
  assert.equal(lines.length, 3, lines.join("\n"))
  assert.match(lines[0]!, /^progress 5\.2s: read-corpus 300→300 300\/s 1\.25 MB\/s eta 6s$/)
  assert.match(lines[1]!, /read-corpus 600→600/)
  assert.match(lines[2]!, /^progress \(done\) 11\.0s: read-corpus 625→625 625\/s 1\.30 MB\/s$/)
})

test("on a terminal the table has an MB/s column", () => {
  assert.match(renderProgress([snap("read-corpus", 10, { mbPerSecond: 2.5 })]), /MB\/s[\s\S]*2\.50/)
})

test("a folder of .txt files: the source knows how many documents to expect (ETA) and measures MB/s", async () => {
  const dir = join(tempDir(), "notes")
  mkdirSync(join(dir, "sub"), { recursive: true })
  const text = "Le patient présente une dyspnée d’effort depuis trois semaines, sans douleur thoracique. ".repeat(8)
  for (let i = 0; i < 7; i++) writeFileSync(join(dir, i < 3 ? "sub" : "", `note-${i}.txt`), `${text} Note ${i}.`)
  const { report } = await runCorpus(tempWarehousePath(), { input: dir })
  const read = report.stages.find((s) => s.name === "read-corpus")!
  assert.equal(read.in, 7)
  assert.equal(read.etaSeconds, 0) // expected 7 documents, 7 read
  assert.ok(read.mbPerSecond !== undefined && read.mbPerSecond > 0)
  assert.equal(report.stages.find((s) => s.name === "clean")!.mbPerSecond, undefined)
})
