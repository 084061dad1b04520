// What the corpus-on-Kafka tests share: worker processes of `fleuve worker ... --pipeline corpus`,
// waiting for their log lines, and the run's results (corpus_documents and the output folder:
// manifest, shards, cleaned documents) in a form that compares across runs.
import assert from "node:assert/strict"
import { type ChildProcess, spawn } from "node:child_process"
import { closeSync, openSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { AssignerProtocol, Kafka, logLevel } from "kafkajs"
import { readArrowShard } from "../../../operators/writers/arrow-shards.ts"
import { readManifest } from "../../../operators/writers/corpus-manifest.ts"
import { readDocumentsFile } from "../../../operators/writers/documents-jsonl.ts"
import { runCli } from "../../helpers/warehouse.ts"
import { root, sleep, testSettings } from "./helpers.ts"

const bin = join(root, "bin/fleuve.mjs")
export const sampleCorpus = join(root, "data/corpus/sample.jsonl")

export const workers: Array<ChildProcess> = []
export const killAll = () => workers.forEach((w) => w.exitCode === null && w.signalCode === null && w.kill("SIGKILL"))

/** `fleuve worker NODE --pipeline corpus`; its client id sorts before the run job's (`z-…`), so the group gives it the partition first. */
export const startCorpusWorker = (dir: string, node: string, instance: string, env: Record<string, string>) => {
  const log = join(dir, `${instance}.log`)
  const fd = openSync(log, "a")
  const child = spawn(process.execPath, [bin, "worker", node, "--pipeline", "corpus", "--instance", instance], {
    cwd: root,
    env: { ...process.env, ...env, FLEUVE_KAFKA_CLIENT_ID: `a-corpus-${instance}`, FLEUVE_KAFKA_SESSION_TIMEOUT_MS: "6000" },
    stdio: ["ignore", fd, fd]
  })
  closeSync(fd)
  workers.push(child)
  return { child, log, instance }
}

/** Waits until one of `files` (a worker's log, or several) has a line matching `pattern`. */
export const waitFor = async (files: string | ReadonlyArray<string>, pattern: RegExp, timeoutMs: number) => {
  const logs = typeof files === "string" ? [files] : files
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (logs.some((f) => pattern.test(readFileSync(f, "utf8")))) return
    await sleep(250)
  }
  throw new Error(`no line matching ${pattern} within ${timeoutMs / 1000}s in ${logs.map((f) => `${f}:\n${readFileSync(f, "utf8")}`).join("\n")}`)
}

const DECISIONS = "SELECT doc_id, status, reason, duplicate_of, similarity, lang, lang_score, tokens, content_hash, lsh_bands, retired FROM corpus_documents ORDER BY doc_id"

export type DecisionRow = { doc_id: string; status: string; reason: string | null; duplicate_of: string | null }

export const readDecisions = (warehouse: string): Array<DecisionRow> => {
  const q = runCli(["query", "--warehouse", warehouse, "--format", "json", DECISIONS])
  assert.equal(q.code, 0, q.stderr)
  return JSON.parse(q.stdout) as Array<DecisionRow>
}

/**
 * An output folder as it compares across runs: the manifest with run ids replaced by their order
 * of appearance, every sequence of every shard it lists, and every line of its documents files.
 */
export const readOutputs = (outDir: string) => {
  const manifest = readManifest(outDir)
  assert.ok(manifest, `${outDir}: no manifest.json`)
  let text = JSON.stringify(manifest)
  const runs = [...new Set([manifest.updatedByRun, ...manifest.shards.map((s) => s.run), ...manifest.documentsFiles.map((d) => d.run)])]
  runs.forEach((r, i) => (text = text.split(r).join(`run-${i + 1}`)))
  return {
    manifest: JSON.parse(text) as unknown,
    sequences: manifest.shards.flatMap((s) => readArrowShard(join(outDir, s.file)).map(({ seq, ids, docIds }) => ({ seq, ids: [...ids], docIds: [...docIds] }))),
    documents: manifest.documentsFiles.flatMap((d) => readDocumentsFile(join(outDir, d.file)))
  }
}

/** The instance (client id `a-corpus-<instance>`) that the group assigned `topic`'s partition to, if any. */
export const ownerOf = async (group: string, topic: string): Promise<string | undefined> => {
  const kafka = new Kafka({ clientId: "fleuve-test-owner", brokers: [...testSettings().brokers], logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  try {
    const { groups } = await admin.describeGroups([group])
    for (const m of groups[0]?.members ?? []) {
      const assignment = AssignerProtocol.MemberAssignment.decode(m.memberAssignment)
      if ((assignment?.assignment[topic] ?? []).length > 0) return m.clientId.replace(/^a-corpus-/, "")
    }
    return undefined
  } finally {
    await admin.disconnect()
  }
}

/** A JSONL corpus: the sample, then `copies` more of it under new ids (exact duplicates of the first). */
export const writeCopies = (path: string, copies: number) => {
  const lines = readFileSync(sampleCorpus, "utf8").split("\n").filter((l) => l.length > 0)
  const out = [...lines]
  for (let c = 1; c <= copies; c++) {
    for (const l of lines) {
      const doc = JSON.parse(l) as { id: string }
      out.push(JSON.stringify({ ...doc, id: `copy${c}-${doc.id}` }))
    }
  }
  writeFileSync(path, out.join("\n") + "\n")
  return out.length
}
