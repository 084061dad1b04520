import type { Score } from "../../../schemas/evaluation.ts"
import { map, Outcome } from "../../operator.ts"
import type { RawRecord } from "../../readers/raw-record.ts"

/** Fields of an lm-evaluation-harness `--log_samples` line that are not per-metric values. */
const RESERVED = new Set(["doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "filter", "metrics", "doc_hash", "prompt_hash", "target_hash", "task_name"])

export interface LmEvalImport {
  readonly system: string
  /** Task name written to `scores.task` (the lm-eval task, or a fleuve task like mcqa). */
  readonly task: string
  readonly shots: number
  readonly datasetVersion: string
  /** Field of `doc` holding the item id; default: lm-eval's doc_id. */
  readonly idField?: string
}

const asNumber = (v: unknown): number | undefined =>
  typeof v === "boolean" ? (v ? 1 : 0) : typeof v === "number" && Number.isFinite(v) ? v : undefined

/**
 * One `--log_samples` line → one Score per metric value it carries (acc, acc_norm, exact_match,
 * f1, …). The metrics named in its "metrics" list must all be present and numeric; a line with
 * none, or a metric that is not a number, is a dead letter naming the field.
 */
export const parseLmEvalSample = (options: LmEvalImport) =>
  map<RawRecord, Score>("parse-lm-eval-sample", (raw, input) => {
    if (raw._tag === "Unreadable") return Outcome.reject(raw.reason)
    const row = raw.fields
    const docId = row.doc_id
    if (typeof docId !== "number" && typeof docId !== "string") return Outcome.reject("missing field 'doc_id'", "doc_id")
    let itemId = String(docId)
    if (options.idField) {
      const doc = row.doc
      const v = typeof doc === "object" && doc !== null ? (doc as Record<string, unknown>)[options.idField] : undefined
      if (v === undefined || v === null || String(v).trim() === "") return Outcome.reject(`doc has no '${options.idField}'`, `doc.${options.idField}`)
      itemId = String(v)
    }
    const listed = Array.isArray(row.metrics) ? row.metrics.map(String) : undefined
    const names = listed ?? Object.keys(row).filter((k) => !RESERVED.has(k))
    const scores: Array<Score> = []
    for (const metric of names) {
      if (!(metric in row)) return Outcome.reject(`metric '${metric}' is listed in 'metrics' but absent`, metric)
      const v = asNumber(row[metric])
      if (v === undefined) {
        if (listed) return Outcome.reject(`metric '${metric}' is not a number: ${JSON.stringify(row[metric]).slice(0, 60)}`, metric)
        continue
      }
      scores.push({ system: options.system, task: options.task, shots: options.shots, itemId, datasetVersion: options.datasetVersion, metric, score: v })
    }
    if (scores.length === 0) return Outcome.reject("no numeric per-sample metric (expected e.g. acc, acc_norm, exact_match)", "metrics")
    return Outcome.emit(...scores.map((value) => ({ key: input.key, position: input.position, value })))
  })

/** lm-eval names its files samples_<task>_<timestamp>.jsonl: the task, when the user gives none. */
export const taskFromFileName = (path: string): string | undefined => /samples_(.+?)_\d{4}-\d{2}-\d{2}T[\d\-.:]+\.jsonl$/.exec(path)?.[1]
