import * as Config from "effect/Config"
import { Flag } from "effect/cli"
import { Option } from "effect"
import type { EndpointSpec } from "../../pipelines/evaluate/systems.ts"
import { withDefaultSaid } from "./defaults.ts"

/**
 * The flags of an endpoint system (an OpenAI-compatible inference server): `fleuve reeval` scores
 * it as one more system, `fleuve worker predict --pipeline evaluate-<system>` runs its scorer stage.
 */
export const endpointFlags = {
  endpoint: Flag.String("endpoint").pipe(Flag.withDescription("An OpenAI-compatible inference server (vLLM, SGLang, llama.cpp server, TGI) serving a system (reeval: one more system to score; worker predict: the system whose requests it answers): MCQA options by prompt log-probs (/v1/completions, echo + logprobs), generation greedy with stop strings. Needs --endpoint-model"), Flag.optional),
  endpointModel: Flag.String("endpoint-model").pipe(Flag.withDescription("Served model name sent as `model` to --endpoint (reeval: also the system name unless --endpoint-name)"), Flag.optional),
  endpointTokenizer: Flag.String("endpoint-tokenizer").pipe(Flag.withDescription("The served model's tokenizer.json (file or folder): the exact lm-eval continuation boundary; without it the server's token offsets are used"), Flag.optional),
  endpointRevision: Flag.String("endpoint-revision").pipe(Flag.withDescription("The served weights' revision (commit, tag): part of the prediction cache key; default what the server reports, else 'unreported'"), Flag.optional),
  endpointApiKey: Flag.Redacted("endpoint-api-key").pipe(Flag.withDescription("Bearer API key for --endpoint (default $FLEUVE_ENDPOINT_API_KEY); never printed or stored"), Flag.withFallbackConfig(Config.Redacted("FLEUVE_ENDPOINT_API_KEY")), Flag.optional),
  endpointApi: Flag.Literals("endpoint-api", ["completions", "chat"]).pipe(Flag.withDescription(withDefaultSaid("Generation API: completions, or chat for servers that only offer /v1/chat/completions (scoring always needs completions)", "completions")), Flag.withDefault("completions" as const)),
  endpointConcurrency: Flag.Int("endpoint-concurrency").pipe(Flag.withDescription(withDefaultSaid("Requests in flight at once to --endpoint", 4)), Flag.withDefault(4)),
  endpointTimeout: Flag.Int("endpoint-timeout").pipe(Flag.withDescription(withDefaultSaid("Seconds one request may take before it is retried", 120)), Flag.withDefault(120)),
  endpointRetries: Flag.Int("endpoint-retries").pipe(Flag.withDescription(withDefaultSaid("Retries (exponential backoff from 250 ms, capped at 5 s) on connection loss, timeouts, 429 and 5xx", 8)), Flag.withDefault(8)),
  endpointBatch: Flag.Boolean("endpoint-batch-options").pipe(Flag.withDescription(withDefaultSaid("Send an item's options as one request with a list of prompts (vLLM, SGLang; llama.cpp's Python server rejects lists)", false)), Flag.withDefault(false))
}

type EndpointArgs = {
  readonly endpoint: Option.Option<string>
  readonly endpointModel: Option.Option<string>
  readonly endpointTokenizer: Option.Option<string>
  readonly endpointRevision: Option.Option<string>
  readonly endpointApiKey: Option.Option<EndpointSpec["apiKey"] & {}>
  readonly endpointApi: "completions" | "chat"
  readonly endpointConcurrency: number
  readonly endpointTimeout: number
  readonly endpointRetries: number
  readonly endpointBatch: boolean
}

/** The endpoint system the flags name, or undefined when --endpoint is not given (the caller checks --endpoint-model goes with it). */
export const endpointSpecOf = (o: EndpointArgs): EndpointSpec | undefined =>
  Option.isSome(o.endpoint) && Option.isSome(o.endpointModel)
    ? {
      endpoint: o.endpoint.value,
      model: o.endpointModel.value,
      tokenizer: Option.getOrUndefined(o.endpointTokenizer),
      revision: Option.getOrUndefined(o.endpointRevision),
      apiKey: Option.getOrUndefined(o.endpointApiKey),
      api: o.endpointApi,
      concurrency: o.endpointConcurrency,
      timeoutMs: o.endpointTimeout * 1000,
      retries: o.endpointRetries,
      batchOptions: o.endpointBatch
    }
    : undefined
