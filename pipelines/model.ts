/**
 * `fleuve model logprobs|generate`: a JSONL file of requests scored or answered by one checkpoint,
 * result lines on stdout (data), what happens on stderr (the backend, the path, progress, skipped
 * lines with their line number).
 */
import { maxRecordBytes, tooLongReason } from "../operators/readers/limits.ts"
import { firstInvalidByte, readLines } from "../operators/readers/lines.ts"
import {
  type BackendName,
  describeBackend,
  describeGenerationPath,
  describeScoringPath,
  generateRecovering,
  type GenerationSplit,
  GpuDeviceLost,
  ModelHandle,
  type ScoringEngineName,
  scoreContinuations,
  selectBackend,
  setScoringEngine
} from "../model/index.ts"

interface ModelRequest {
  readonly model: string
  readonly input: string
  readonly backend: BackendName
  readonly engine: ScoringEngineName | undefined
  /** PEFT adapter folder, or "" for none. */
  readonly adapter: string
  /** 0: the config's max_position_embeddings. */
  readonly contextWindow: number
  /** The longest request line read (--max-record-bytes; default FLEUVE_MAX_RECORD_BYTES, else 16 MiB). */
  readonly maxRecordBytes?: number | undefined
}
export type LogprobsRequest = ModelRequest
export interface GenerateRequest extends ModelRequest {
  readonly maxNewTokens: number
  readonly stop: ReadonlyArray<string>
  /** 0: as many as memory holds. */
  readonly batch: number
}

/**
 * Loads the model on the chosen backend and says where it runs (stderr: stdout is data). The
 * handle reopens a lost GPU device and reloads the model (model/runtime/model-handle.ts), saying so.
 */
const prepare = async (model: string, backend: BackendName, adapter: string): Promise<ModelHandle> => {
  const choice = await selectBackend(backend)
  process.stderr.write(`fleuve: ${describeBackend(choice)}\n`)
  return ModelHandle.load({ dir: model, ...(adapter ? { adapter } : {}) })
}

/**
 * Parses a JSONL file, streamed with the readers' bound: a bad line (not JSON, a wrong field,
 * invalid UTF-8, longer than the maximum record size) is reported with its line number, then skipped.
 */
const readJsonl = async <A>(file: string, check: (o: Record<string, unknown>) => string | A, max = maxRecordBytes()): Promise<Array<{ line: number; value: A }>> => {
  const out: Array<{ line: number; value: A }> = []
  const skip = (line: number, why: string) => {
    process.stderr.write(`fleuve: ${file}:${line}: ${why}; line skipped\n`)
    process.exitCode = 1
  }
  for await (const l of readLines(file, { maxLineBytes: max })) {
    if (l.tooLong !== undefined) {
      skip(l.line, tooLongReason(l.tooLong, max))
      continue
    }
    if (l.text === undefined) {
      skip(l.line, `invalid UTF-8 at byte ${firstInvalidByte(l.bytes)}`)
      continue
    }
    const text = l.text
    if (text.trim() === "") continue
    let o: unknown
    try {
      o = JSON.parse(text)
    } catch (e) {
      skip(l.line, `not JSON (${e instanceof Error ? e.message : String(e)})`)
      continue
    }
    const r = typeof o === "object" && o !== null ? check(o as Record<string, unknown>) : "a line must be a JSON object"
    if (typeof r === "string") skip(l.line, r)
    else out.push({ line: l.line, value: r })
  }
  return out
}

const size = (bytes: number): string => (bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.round(bytes / 1e3)} kB`)

/** One stderr line for a split of generation into batches (after "fleuve: generation: "). */
export const describeSplit = (s: GenerationSplit): string =>
  s._tag === "Planned"
    ? `${s.prompts} prompts in ${s.batches} batches of ${s.rowsPerBatch} (KV cache and activations ${size(s.batchBytes)} a batch, ${size(s.availableBytes)} ${s.measured === "gpu" ? "free on the GPU" : s.measured === "host" ? "free in host memory" : "available"}${s.limit === "maxBatch" ? "; --batch caps it" : s.limit === "decoder" ? "; the WGSL decoder takes 128 rows a batch" : ""})`
    : `out of memory with ${s.rows} prompts in a batch; halving to ${Math.ceil(s.rows / 2)} and ${Math.floor(s.rows / 2)} (${s.why.split("\n")[0]})`

const field = (o: Record<string, unknown>, name: string): string | undefined => (typeof o[name] === "string" ? (o[name] as string) : undefined)

export const scoreContinuationsFile = async ({ model, input, backend, engine, adapter, contextWindow, maxRecordBytes: max }: LogprobsRequest): Promise<void> => {
  const rows = await readJsonl(input, (o) => {
    const context = field(o, "context")
    const continuation = field(o, "continuation")
    if (context === undefined) return "field 'context' must be a string"
    if (continuation === undefined) return "field 'continuation' must be a string"
    return { id: o.id ?? null, context, continuation }
  }, max)
  const handle = await prepare(model, backend, adapter)
  setScoringEngine(engine)
  process.stderr.write(`fleuve: ${await describeScoringPath(handle.current.model)}\n`)
  // Consecutive lines with the same context are one item's options: one prompt pass for all.
  for (let i = 0; i < rows.length;) {
    let j = i + 1
    while (j < rows.length && rows[j]!.value.context === rows[i]!.value.context) j++
    const group = rows.slice(i, j)
    try {
      const lines = `${input}:${group[0]!.line}-${group[group.length - 1]!.line}`
      const scored = await handle.run(`scoring ${lines}`, (m) =>
        scoreContinuations(m.model, m.tokenizer, group[0]!.value.context, group.map((g) => g.value.continuation), contextWindow > 0 ? { contextWindow } : {}))
      group.forEach((g, k) => {
        const o = scored.options[k]!
        process.stdout.write(`${JSON.stringify({ id: g.value.id, logprob: o.logprob, token_ids: o.tokenIds, token_logprobs: o.tokenLogprobs, greedy: o.greedy, truncated_tokens: scored.truncatedTokens })}\n`)
      })
    } catch (e) {
      // a device that cannot be recovered ends the command: every later line would fail too
      if (e instanceof GpuDeviceLost) throw e
      process.stderr.write(`fleuve: ${input}:${group[0]!.line}: ${e instanceof Error ? e.message : String(e)}; lines ${group[0]!.line}-${group[group.length - 1]!.line} skipped\n`)
      process.exitCode = 1
    }
    i = j
  }
}

export const generateFromFile = async ({ model, input, backend, engine, adapter, contextWindow, maxNewTokens, stop, batch, maxRecordBytes: max }: GenerateRequest): Promise<void> => {
  const rows = await readJsonl(input, (o) => {
    const prompt = field(o, "prompt")
    return prompt === undefined ? "field 'prompt' must be a string" : { id: o.id ?? null, prompt }
  }, max)
  const handle = await prepare(model, backend, adapter)
  setScoringEngine(engine)
  process.stderr.write(`fleuve: ${await describeGenerationPath(handle.current.model)}\n`)
  let done = 0
  // After a lost device, generation starts again at the first prompt not yet written.
  await generateRecovering(handle, rows.map((r) => r.value.prompt), {
    maxNewTokens,
    stop,
    ...(contextWindow > 0 ? { contextWindow } : {}),
    ...(batch > 0 ? { maxBatch: batch } : {}),
    memory: { onSplit: (s) => process.stderr.write(`fleuve: generation: ${describeSplit(s)}\n`) },
    // each batch's lines as it completes: a long file shows progress and keeps what is done
    onBatch: (first, out) => {
      out.forEach((o, k) => {
        // non-finite logits: no generation line, the prompt named on stderr, and rc 1
        if (o.error !== undefined) {
          process.stderr.write(`fleuve: ${input}:${rows[first + k]!.line}: ${o.error}\n`)
          process.exitCode = 1
          return
        }
        process.stdout.write(`${JSON.stringify({ id: rows[first + k]!.value.id, text: o.text, token_ids: o.tokenIds, finish_reason: o.finishReason, truncated_tokens: o.truncatedTokens })}\n`)
      })
      done += out.length
      process.stderr.write(`fleuve: generated ${done}/${rows.length}\n`)
    }
  })
}
