import { Effect, type Redacted } from "effect"
import { createHash } from "node:crypto"
import { readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { moveTrailingWhitespace } from "../../lib/python-whitespace.ts"
import { OperatorFailure, RecordRejected } from "../operator.ts"
import { type EndpointClient, EndpointError, makeEndpointClient, type EndpointProgress } from "./endpoint/client.ts"
import type { ContinuationLogprob, QaModel } from "./model.ts"

/**
 * A model behind an OpenAI-compatible server as a QaModel: option log-likelihoods from
 * `/v1/completions` with the prompt echoed and its log-probs returned, greedy generation from
 * `/v1/completions` (or `/v1/chat/completions` when `api: "chat"`), both at temperature 0.
 *
 * Log-likelihood, request by request, as lm-eval's `local-completions` does: the context's trailing
 * whitespace moves to the continuation (Python's rstrip, the same rule as fleuve's runtimes), the
 * server gets context+continuation with `echo: true, logprobs: 1, max_tokens: 1` and the one
 * generated token is dropped. `max_tokens: 0` is not sent: llama.cpp's Python server reads 0 as
 * "until the context is full". The continuation's tokens are found exactly:
 *  - with the model's tokenizer.json: lm-eval's rule, |enc(ctx+cont)| − |enc(ctx)| last prompt
 *    tokens (the server's prompt token count must equal |enc(ctx+cont)|, else an error);
 *  - without: by the server's `text_offset`s, the tokens from the one that starts exactly where the
 *    context ends (in code points, as Python servers count); no token starting there (a token
 *    spanning the boundary) is an error that asks for the tokenizer.
 * A continuation token is greedy when its log-prob is the top of `top_logprobs` at its position.
 *
 * The first option of a context goes alone, the others after it (in flight together up to the
 * client's limit): a server with a prefix cache (vLLM, SGLang, llama.cpp) computes the shared
 * prompt once. Servers that accept a list of prompts get all options in one request with
 * `batchOptions` (vLLM and SGLang do; llama.cpp's Python server rejects lists).
 *
 * Identity, hence the prediction cache key: modelId is `served-name@endpoint` (credentials
 * masked), modelRevision the revision the user declares, else what the server reports, else
 * "unreported", plus the API kind and the tokenizer's hash: two endpoints or two revisions never
 * share a cached prediction.
 */

export interface EndpointSpec {
  readonly endpoint: string
  /** The served model name sent as `model`. */
  readonly model: string
  /** Folder (or file) of the model's tokenizer.json: the exact lm-eval continuation boundary. */
  readonly tokenizer?: string | undefined
  /** The revision the user declares (a commit, a tag): goes into the cache key. */
  readonly revision?: string | undefined
  readonly apiKey?: Redacted.Redacted<string> | undefined
  readonly api?: "completions" | "chat" | undefined
  readonly concurrency?: number | undefined
  readonly timeoutMs?: number | undefined
  readonly retries?: number | undefined
  readonly batchOptions?: boolean | undefined
  readonly onProgress?: ((p: EndpointProgress) => void) | undefined
}

interface Tokenizer {
  readonly encode: (text: string) => ReadonlyArray<number>
}

interface CompletionLogprobs {
  readonly tokens?: ReadonlyArray<string>
  readonly token_logprobs?: ReadonlyArray<number | null>
  readonly text_offset?: ReadonlyArray<number>
  readonly top_logprobs?: ReadonlyArray<Record<string, number> | null>
}
interface CompletionChoice {
  readonly index?: number
  readonly text?: string
  readonly logprobs?: CompletionLogprobs | null
  readonly finish_reason?: string | null
  readonly message?: { readonly content?: string | null }
}
interface CompletionResponse {
  readonly choices?: ReadonlyArray<CompletionChoice>
  readonly usage?: { readonly prompt_tokens?: number; readonly completion_tokens?: number }
}

/** Length in code points: what Python servers' text offsets count. */
const codePoints = (s: string): number => {
  let n = 0
  for (const _ of s) n++
  return n
}

/** This request cannot be scored through the server (a dead letter; the run goes on). */
export class EndpointScoringError extends Error {}
/** The server is set up so that no request can be scored right (the run stops, saying how to fix it). */
export class EndpointMisconfigured extends EndpointScoringError {}

/**
 * The continuation's log-probs out of one echoed completion choice. Exported for the tests that
 * feed it real server answers.
 */
export const continuationFromEcho = (
  choice: CompletionChoice,
  usage: CompletionResponse["usage"],
  split: { readonly context: string; readonly prompt: string },
  tokenizer: Tokenizer | undefined
): ContinuationLogprob => {
  const lp = choice.logprobs
  if (!lp?.token_logprobs || !lp.text_offset) throw new EndpointScoringError("the server returned no prompt log-probs (does it support echo with logprobs? llama.cpp's Python server needs logits_all)")
  // The echoed prompt tokens come first, then the generated one(s). Where the prompt ends is read
  // from the text offsets (a generated token starts at or after the prompt's end) or, with a
  // tokenizer, from |enc(prompt)|.
  const total = lp.token_logprobs.length
  const promptEnd = codePoints(split.prompt)
  const byOffsets = lp.text_offset.filter((o, i) => i < total && o < promptEnd).length
  const promptTokens = tokenizer ? tokenizer.encode(split.prompt).length : byOffsets
  if (tokenizer && total < promptTokens) {
    throw new EndpointScoringError(`the server echoed ${total} tokens for a prompt the given tokenizer splits into ${promptTokens}: not the served model's tokenizer`)
  }
  // llama-cpp-python (0.3.36) pairs token i with the logits *after* token i unless a BOS token was
  // put in front of the prompt: its echoed log-probs are then shifted by one. It shows as a
  // generated token missing from the echo.
  if ((usage?.completion_tokens ?? 0) > 0 && total === byOffsets) {
    throw new EndpointMisconfigured("the server echoed no generated token: llama.cpp's Python server without a BOS token, whose prompt log-probs are then shifted by one position; serve the model with --kv_overrides tokenizer.ggml.add_bos_token=bool:true")
  }
  let first: number
  if (tokenizer) {
    if (byOffsets !== promptTokens) {
      throw new EndpointScoringError(`the server tokenized the prompt into ${byOffsets} tokens, the given tokenizer into ${promptTokens}: not the served model's tokenizer`)
    }
    first = tokenizer.encode(split.context).length
  } else {
    const boundary = codePoints(split.context)
    first = lp.text_offset.findIndex((o, i) => i < promptTokens && o >= boundary)
    if (first < 0 || lp.text_offset[first] !== boundary) {
      throw new EndpointScoringError(`no server token starts where the context ends (offset ${boundary}); give the model's tokenizer (tokenizer: DIR) to split exactly`)
    }
  }
  if (first >= promptTokens) throw new EndpointScoringError("the continuation is empty after tokenization")
  let logprob = 0
  let greedy = true
  for (let i = first; i < promptTokens; i++) {
    const v = lp.token_logprobs[i]
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new EndpointScoringError(i === 0 ? "the server gives no log-prob for the first prompt token: an empty context cannot be scored through it" : `no log-prob for prompt token ${i}`)
    }
    logprob += v
    const top = lp.top_logprobs?.[i]
    if (top) {
      const best = Math.max(...Object.values(top))
      if (v < best - 1e-6) greedy = false
    }
  }
  return { logprob, tokens: promptTokens - first, greedy }
}

const sha12 = (bytes: Buffer | string) => createHash("sha256").update(bytes).digest("hex").slice(0, 12)

const tokenizerFile = (path: string) => (statSync(path).isDirectory() ? join(path, "tokenizer.json") : path)

const reportedRevision = (client: EndpointClient, model: string) =>
  client.get("/models").pipe(
    Effect.map((body) => {
      const data = (body as { data?: ReadonlyArray<Record<string, unknown>> }).data ?? []
      const entry = data.find((m) => m.id === model)
      if (!entry) return undefined
      // vLLM reports the weights it loaded as `root`; others report nothing that identifies weights.
      for (const k of ["revision", "root"]) if (typeof entry[k] === "string" && entry[k] !== model) return `${k}:${entry[k] as string}`
      return undefined
    }),
    Effect.orElseSucceed(() => undefined)
  )

const operatorFailure = (e: unknown) =>
  new OperatorFailure({ operator: "endpoint", message: e instanceof EndpointError ? `${e.endpoint}${e.path}: ${e.message}` : e instanceof Error ? e.message : String(e) })

/** A request the server cannot score right is a dead letter; transport failures and a misconfigured server stop the run. */
const failure = (e: unknown) =>
  e instanceof EndpointScoringError && !(e instanceof EndpointMisconfigured)
    ? new RecordRejected({ reason: `endpoint: ${e.message}`, field: "continuations" })
    : operatorFailure(e)

/** Builds the model: asks the server for its model list (the reported revision), loads the tokenizer. */
export const makeEndpointQaModel = (spec: EndpointSpec): Effect.Effect<QaModel & { readonly client: EndpointClient }, OperatorFailure> =>
  Effect.gen(function*() {
    const client = makeEndpointClient({
      url: spec.endpoint,
      apiKey: spec.apiKey,
      concurrency: spec.concurrency,
      timeoutMs: spec.timeoutMs,
      retries: spec.retries,
      onProgress: spec.onProgress
    })
    const tokenizer: Tokenizer | undefined = spec.tokenizer
      ? yield* Effect.tryPromise({
        try: async () => {
          // The tensor library loads only for this: an endpoint system otherwise needs no model code.
          const { loadTokenizer } = await import("../../model/index.ts")
          return loadTokenizer(spec.tokenizer!)
        },
        catch: (e) => new OperatorFailure({ operator: "endpoint", message: `tokenizer ${spec.tokenizer}: ${e instanceof Error ? e.message : String(e)}` })
      })
      : undefined
    const tokenizerHash = spec.tokenizer ? sha12(readFileSync(tokenizerFile(spec.tokenizer))) : undefined
    const revision = spec.revision ?? (yield* reportedRevision(client, spec.model)) ?? "unreported"
    const api = spec.api ?? "completions"
    const modelRevision = [revision, ...(api === "chat" ? ["api:chat"] : []), ...(tokenizerHash ? [`tokenizer:${tokenizerHash}`] : [])].join("+")

    const scoreOne = (context: string, continuation: string) =>
      Effect.gen(function*() {
        const split = moveTrailingWhitespace(context, continuation)
        const prompt = split.context + split.continuation
        const body = (yield* client.post("/completions", { model: spec.model, prompt, max_tokens: 1, temperature: 0, echo: true, logprobs: 1 })) as CompletionResponse
        const choice = body.choices?.[0]
        if (!choice) return yield* Effect.fail(new EndpointScoringError("the answer has no choices"))
        return yield* Effect.try({ try: () => continuationFromEcho(choice, body.usage, { context: split.context, prompt }, tokenizer), catch: (e) => e as Error })
      })

    const scoreBatch = (context: string, continuations: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        const splits = continuations.map((c) => moveTrailingWhitespace(context, c))
        const prompts = splits.map((s) => s.context + s.continuation)
        const body = (yield* client.post("/completions", { model: spec.model, prompt: prompts, max_tokens: 1, temperature: 0, echo: true, logprobs: 1 })) as CompletionResponse
        const choices = body.choices ?? []
        return yield* Effect.try({
          try: () =>
            splits.map((s, i) => {
              const choice = choices.find((c) => c.index === i) ?? choices[i]
              if (!choice) throw new EndpointScoringError(`the answer has no choice ${i}`)
              // usage sums over the list; each choice generated at most max_tokens = 1.
              return continuationFromEcho(choice, { completion_tokens: choice.finish_reason === "length" ? 1 : 0 }, { context: s.context, prompt: prompts[i]! }, tokenizer)
            }),
          catch: (e) => e as Error
        })
      })

    const model: QaModel & { readonly client: EndpointClient } = {
      modelId: `${spec.model}@${client.endpoint}`,
      modelRevision,
      adapterHash: "none",
      concurrency: spec.concurrency ?? 4,
      client,
      loglikelihood: (context, continuations) =>
        Effect.gen(function*() {
          if (continuations.length === 0) return { options: [], truncatedTokens: 0 }
          if (spec.batchOptions) return { options: yield* scoreBatch(context, continuations), truncatedTokens: 0 }
          // First option alone: the server caches the shared prompt; the rest reuse it.
          const head = yield* scoreOne(context, continuations[0]!)
          const rest = yield* Effect.forEach(continuations.slice(1), (c) => scoreOne(context, c), { concurrency: "unbounded" })
          return { options: [head, ...rest], truncatedTokens: 0 }
        }).pipe(Effect.mapError(failure)),
      generate: (prompts, decoding) =>
        // One request per prompt, as many in flight as the client allows; answers in order.
        Effect.forEach(prompts, (prompt) =>
          Effect.gen(function*() {
            // repeat_penalty 1: llama.cpp's server applies its default 1.1 before the greedy pick otherwise
            // (other servers ignore the field).
            const common = { model: spec.model, max_tokens: decoding.maxNewTokens, temperature: 0, repeat_penalty: 1, ...(decoding.stop.length > 0 ? { stop: decoding.stop } : {}) }
            const body = (yield* (api === "chat"
              ? client.post("/chat/completions", { ...common, messages: [{ role: "user", content: prompt }] })
              : client.post("/completions", { ...common, prompt }))) as CompletionResponse
            const choice = body.choices?.[0]
            const text = api === "chat" ? choice?.message?.content : choice?.text
            if (typeof text !== "string") return yield* Effect.fail(new EndpointScoringError(`the answer has no ${api === "chat" ? "choices[0].message.content" : "choices[0].text"}`))
            return { text, truncatedTokens: 0 }
          }), { concurrency: "unbounded" }).pipe(Effect.mapError(operatorFailure))
    }
    return model
  })
