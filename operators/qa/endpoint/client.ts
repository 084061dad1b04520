import { Data, Duration, Effect, Redacted, Schedule, Semaphore } from "effect"
import { redactUrl, redactUrlsIn } from "../../../lib/redact.ts"

/**
 * HTTP client for one OpenAI-compatible inference server (vLLM, SGLang, llama.cpp's server, TGI):
 * POSTs JSON under the server's /v1, with a bounded number of requests in flight, a timeout per
 * attempt, and retries with exponential backoff on what a restart or an overload looks like
 * (connection refused or reset, a timeout, HTTP 429 and 5xx). A 4xx other than 429 is the
 * request's fault and is not retried.
 *
 * Gotchas: the API key is held as an Effect `Redacted` and only unwrapped into the Authorization
 * header; the URL is printed only through `redactUrl` (a `user:password@` or `?key=` in it never
 * reaches a log, an error, `runs.args` or a dead letter). Retrying is safe because a request
 * produces nothing until its answer arrives: a retried request still yields one row.
 */

export interface EndpointClientOptions {
  /** Server root, e.g. http://127.0.0.1:8000 (with or without a trailing /v1). */
  readonly url: string
  readonly apiKey?: Redacted.Redacted<string> | undefined
  /** Requests in flight at once (default 4). */
  readonly concurrency?: number | undefined
  /** Milliseconds one attempt may take (default 120 000). */
  readonly timeoutMs?: number | undefined
  /** Retries after the first attempt (default 8: about 25 s of backoff, enough for a server restart). */
  readonly retries?: number | undefined
  /** First backoff in milliseconds, doubled each retry up to 5 s (default 250). */
  readonly backoffMs?: number | undefined
  /** Called at most every `progressEveryMs` (default 5 s) with the requests done so far. */
  readonly onProgress?: ((p: EndpointProgress) => void) | undefined
  readonly progressEveryMs?: number | undefined
}

export interface EndpointProgress {
  readonly endpoint: string
  readonly requests: number
  readonly retries: number
  readonly requestsPerSecond: number
}

export class EndpointError extends Data.TaggedError("EndpointError")<{
  readonly endpoint: string
  readonly path: string
  readonly message: string
  readonly status?: number | undefined
}> {}

/** An attempt that may succeed if tried again (connection loss, timeout, 429, 5xx). */
class Transient extends Data.TaggedError("Transient")<{ readonly message: string; readonly status?: number | undefined }> {}

export interface EndpointClient {
  /** The URL with credentials masked: what logs, errors and provenance show. */
  readonly endpoint: string
  readonly post: (path: string, body: unknown) => Effect.Effect<unknown, EndpointError>
  readonly get: (path: string) => Effect.Effect<unknown, EndpointError>
  readonly stats: () => EndpointProgress
}

/** `http://h:8000`, `http://h:8000/`, `http://h:8000/v1` → `http://h:8000/v1`. */
export const v1Root = (url: string): string => {
  const trimmed = url.replace(/\/+$/, "")
  return /\/v1$/.test(trimmed) ? trimmed : `${trimmed}/v1`
}

const isConnectionLoss = (e: unknown): boolean => {
  if (!(e instanceof Error)) return false
  if (e.name === "AbortError" || e.name === "TimeoutError") return true
  // undici: TypeError("fetch failed") with cause ECONNREFUSED / ECONNRESET / UND_ERR_SOCKET / EPIPE
  if (e.name === "TypeError" && /fetch failed|terminated|socket/i.test(e.message)) return true
  const code = (e as { code?: string }).code ?? ((e as { cause?: { code?: string } }).cause?.code)
  return typeof code === "string" && /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|UND_ERR_)/.test(code)
}

const causeText = (e: unknown): string => {
  if (!(e instanceof Error)) return String(e)
  const cause = (e as { cause?: { code?: string; message?: string } }).cause
  return cause?.code ? `${e.message} (${cause.code})` : cause?.message ? `${e.message} (${cause.message})` : e.message
}

export const makeEndpointClient = (options: EndpointClientOptions): EndpointClient => {
  const root = v1Root(options.url)
  const endpoint = redactUrl(options.url)
  // fetch() refuses URLs with credentials in them: they become a Basic Authorization header.
  const parsed = new URL(root)
  const basic = parsed.username !== "" ? Buffer.from(`${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`).toString("base64") : undefined
  parsed.username = ""
  parsed.password = ""
  const base = parsed.toString().replace(/\/+$/, "")
  const permits = Semaphore.makeUnsafe(Math.max(1, options.concurrency ?? 4))
  const timeoutMs = options.timeoutMs ?? 120_000
  const started = performance.now()
  let requests = 0
  let retries = 0
  let lastReport = started
  const stats = (): EndpointProgress => ({ endpoint, requests, retries, requestsPerSecond: requests / Math.max((performance.now() - started) / 1000, 1e-9) })
  const headers = (): Record<string, string> => ({
    "content-type": "application/json",
    ...(options.apiKey && Redacted.value(options.apiKey) !== "" ? { authorization: `Bearer ${Redacted.value(options.apiKey)}` } : basic ? { authorization: `Basic ${basic}` } : {})
  })

  const attempt = (method: "GET" | "POST", path: string, body: unknown) =>
    Effect.tryPromise({
      try: async (signal) => {
        const response = await fetch(`${base}${path}`, {
          method,
          headers: headers(),
          ...(method === "POST" ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
        })
        const text = await response.text()
        if (response.status === 429 || response.status >= 500) throw new Transient({ message: `HTTP ${response.status}: ${text.slice(0, 300)}`, status: response.status })
        if (!response.ok) throw new EndpointError({ endpoint, path, message: `HTTP ${response.status}: ${redactUrlsIn(text.slice(0, 500))}`, status: response.status })
        try {
          return JSON.parse(text) as unknown
        } catch {
          throw new EndpointError({ endpoint, path, message: `the answer is not JSON: ${redactUrlsIn(text.slice(0, 300))}` })
        }
      },
      catch: (e) =>
        e instanceof Transient || e instanceof EndpointError
          ? e
          : isConnectionLoss(e)
          ? new Transient({ message: redactUrlsIn(causeText(e)) })
          : new EndpointError({ endpoint, path, message: redactUrlsIn(causeText(e)) })
    })

  const backoff = Schedule.exponential(`${options.backoffMs ?? 250} millis`).pipe(
    Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.seconds(5))))
  )

  const call = (method: "GET" | "POST", path: string, body: unknown) =>
    permits.withPermit(
      attempt(method, path, body).pipe(
        Effect.tapError((e) => Effect.sync(() => (e._tag === "Transient" ? retries++ : undefined))),
        Effect.retry({ while: (e) => e._tag === "Transient", schedule: backoff, times: options.retries ?? 8 }),
        Effect.mapError((e) => e._tag === "Transient" ? new EndpointError({ endpoint, path, message: `gave up after ${(options.retries ?? 8) + 1} attempts: ${e.message}`, status: e.status }) : e),
        Effect.tap(() =>
          Effect.sync(() => {
            requests++
            const now = performance.now()
            if (options.onProgress && now - lastReport >= (options.progressEveryMs ?? 5000)) {
              lastReport = now
              options.onProgress(stats())
            }
          })
        )
      )
    )

  return { endpoint, post: (path, body) => call("POST", path, body), get: (path) => call("GET", path, undefined), stats }
}
