/**
 * Compares two bench/corpus/fleuve-run.ts work folders, to check that a change kept the outputs:
 * shard bytes, the documents file decompressed, the manifest (its run id blanked), the dedup lists
 * (as sets), and corpus_documents (every column but the run ids and timestamps). Prints each
 * folder's digests, then IDENTICAL or DIFFERENT (exit code 1).
 *
 *   npx tsx bench/corpus/compare-outputs.ts WORKDIR_A WORKDIR_B
 */
import { DuckDBInstance } from "@duckdb/node-api"
import { createHash } from "node:crypto"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { gunzipSync } from "node:zlib"

const [a, b] = process.argv.slice(2) as [string, string]
const digest = (data: Buffer | string) => createHash("sha256").update(data).digest("hex").slice(0, 16)

const digests = async (dir: string) => {
  const shards = join(dir, "shards")
  const files = readdirSync(shards).sort()
  const manifest = readFileSync(join(shards, "manifest.json"), "utf8")
  const runId = (JSON.parse(manifest) as { updatedByRun: string }).updatedByRun
  const lists = ["reached.json", "removed.json", "removed-near.json"].map((f) => digest(JSON.stringify((JSON.parse(readFileSync(join(dir, f), "utf8")) as Array<string>).sort())))
  const instance = await DuckDBInstance.create(join(dir, "state.duckdb"), { access_mode: "READ_ONLY" })
  const connection = await instance.connect()
  const rows = (await connection.runAndReadAll(
    "SELECT doc_id, content_hash, source, status, reason, duplicate_of, lang, lang_score, tokens, lsh_bands, similarity, retired FROM corpus_documents ORDER BY doc_id"
  )).getRows()
  connection.closeSync()
  return {
    shards: digest(files.filter((f) => f.endsWith(".arrow")).map((f) => digest(readFileSync(join(shards, f)))).join()),
    documents: files.filter((f) => f.endsWith("-documents.jsonl.gz")).map((f) => digest(gunzipSync(readFileSync(join(shards, f))))),
    manifest: digest(manifest.replaceAll(runId, "RUN")),
    lists,
    rows: rows.length,
    corpusDocuments: digest(JSON.stringify(rows, (_, v) => (typeof v === "bigint" ? v.toString() : v)))
  }
}

const [x, y] = [await digests(a), await digests(b)]
console.log(JSON.stringify(x))
console.log(JSON.stringify(y))
const same = JSON.stringify(x) === JSON.stringify(y)
console.log(same ? "IDENTICAL" : "DIFFERENT")
process.exit(same ? 0 : 1)
