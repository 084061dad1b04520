import { Effect, Redacted, Schedule } from "effect"
import { redact, splitUrlCredentials } from "../../../lib/redact.ts"
import { type ChatMessage, type Judge, JudgeError, loadRubric, rubricMessages, type RubricSet } from "./judge.ts"
import { parseVerdict } from "./parse-verdict.ts"

export interface OpenAiJudgeOptions {
  /**
   * Server root, e.g. http://localhost:8000 (the client appends /v1/chat/completions). Credentials
   * in it (`http://user:pass@host`) are sent as HTTP Basic authentication, never printed.
   */
  readonly baseUrl: string
  readonly model: string
  /** Sent as `Authorization: Bearer …`; a Redacted value, unwrapped only for the request. */
  readonly apiKey?: Redacted.Redacted<string>
  readonly timeoutMs?: number
  /** Retries on network errors and 5xx/429 answers, with exponential backoff. */
  readonly retries?: number
  readonly maxTokens?: number
  readonly rubric?: RubricSet
}

class Retryable {
  constructor(readonly message: string) {}
}

/** The server's URL without credentials, and the Authorization header the request carries. */
const endpointOf = (options: OpenAiJudgeOptions) => {
  const { url, username, password } = splitUrlCredentials(options.baseUrl)
  const authorization = options.apiKey
    ? `Bearer ${Redacted.value(options.apiKey)}`
    : username !== undefined
    ? `Basic ${Buffer.from(`${username}:${password ?? ""}`).toString("base64")}`
    : undefined
  return { url: url.replace(/\/+$/, ""), authorization: authorization === undefined ? undefined : Redacted.make(authorization) }
}

/** POST /v1/chat/completions and return choices[0].message.content. */
export const chatCompletion = (options: OpenAiJudgeOptions, messages: ReadonlyArray<ChatMessage>, id: string) => {
  const endpoint = endpointOf(options)
  return Effect.tryPromise({
    try: async (signal) => {
      const controller = new AbortController()
      signal.addEventListener("abort", () => controller.abort())
      const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 60_000)
      try {
        const response = await fetch(`${endpoint.url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", ...(endpoint.authorization ? { authorization: Redacted.value(endpoint.authorization) } : {}) },
          body: JSON.stringify({ model: options.model, messages, temperature: 0, max_tokens: options.maxTokens ?? 512 }),
          signal: controller.signal
        })
        const text = await response.text()
        if (response.status >= 500 || response.status === 429) throw new Retryable(`HTTP ${response.status}: ${text.slice(0, 200)}`)
        if (!response.ok) throw new Error(`HTTP ${response.status}: ${text.slice(0, 200)}`)
        const body = JSON.parse(text) as { choices?: Array<{ message?: { content?: unknown } }> }
        const content = body.choices?.[0]?.message?.content
        if (typeof content !== "string") throw new Error(`no choices[0].message.content in ${text.slice(0, 200)}`)
        return content
      } catch (e) {
        if (e instanceof Retryable) throw e
        if (e instanceof Error && (e.name === "AbortError" || e.name === "TypeError")) throw new Retryable(`${e.name}: ${e.message}`)
        throw e
      } finally {
        clearTimeout(timer)
      }
    },
    // A server may echo what it was sent (a URL, a header): every message goes through redact.
    catch: (e) => (e instanceof Retryable ? e : new JudgeError({ judge: id, message: redact(`${endpoint.url}: ${e instanceof Error ? e.message : String(e)}`) }))
  }).pipe(
    Effect.retry({ while: (e) => e instanceof Retryable, schedule: Schedule.exponential("200 millis"), times: options.retries ?? 2 }),
    Effect.mapError((e) => (e instanceof Retryable ? new JudgeError({ judge: id, message: redact(`${endpoint.url}: ${e.message}`) }) : e))
  )
}

/**
 * An LLM judge behind any OpenAI-compatible endpoint (vLLM, llama.cpp server, TGI, Ollama, a
 * hosted API). Greedy (temperature 0); the verdict is read with parseVerdict, and an output with
 * no readable verdict is a JudgeError carrying the raw text, never a made-up score.
 */
export const openAiCompatibleJudge = (options: OpenAiJudgeOptions): Judge => {
  const rubric = options.rubric ?? loadRubric()
  const id = `openai-compatible/${options.model}/${rubric.version}`
  return {
    id,
    kind: "openai-compatible",
    judge: (request) =>
      Effect.gen(function*() {
        const raw = yield* chatCompletion(options, rubricMessages(rubric, request), id)
        const verdict = parseVerdict(raw)
        if (verdict._tag === "Unparseable") return yield* new JudgeError({ judge: id, message: `${verdict.reason}; raw output: ${raw.slice(0, 300)}` })
        return { score: verdict.score, judge: id, raw, order: request.order ?? "reference-first" }
      })
  }
}
