import { Command } from "effect/cli"
import { lazyHandler } from "../lazy.ts"
import { logprobsConfig, generateConfig } from "../flags/model.ts"

const logprobs = Command.make("logprobs", logprobsConfig, (args) => lazyHandler(() => import("../handlers/model.ts"), (h) => h.logprobsHandler(args))).pipe(
  Command.withDescription(
    "Log-probabilities of continuations given contexts (lm-evaluation-harness convention: trailing spaces of the context move to the continuation).\n" +
      "Input lines: {id, context, continuation}. Output lines (stdout): {id, logprob, token_ids, token_logprobs, greedy, truncated_tokens};\n" +
      "greedy is true when every continuation token was the argmax. Consecutive lines sharing a context are scored together.\n" +
      "On a GPU with tensor cores the options run on fleuve's WGSL engine (f16 weights, LoRA merged), else on the tfjs runtime (one prompt pass, KV cache); --engine chooses, stderr says which."
  ),
  Command.withExamples([
    { command: "fleuve model logprobs --model ./Qwen3-0.6B --input options.jsonl > scores.jsonl", description: "Score continuations on the best backend" },
    { command: "fleuve model logprobs --model ./Qwen3-0.6B --adapter ./out/final --backend wasm --input options.jsonl", description: "With a LoRA adapter, on CPU" },
    { command: "fleuve model logprobs --model ./Qwen3-0.6B --backend webgpu --engine wgsl --input options.jsonl", description: "Require the WGSL engine (fails, saying why, without tensor cores)" },
    { command: "fleuve model logprobs --model ./Qwen3-0.6B --backend webgpu --engine tfjs --input options.jsonl", description: "The tfjs runtime on the GPU, e.g. to compare with the engine" }
  ])
)

const generate = Command.make("generate", generateConfig, (args) => lazyHandler(() => import("../handlers/model.ts"), (h) => h.generateHandler(args))).pipe(
  Command.withDescription(
    "Greedy generation with a KV cache, batched. Input lines: {id, prompt}. Output lines: {id, text, token_ids, finish_reason, truncated_tokens}. " +
      "On a GPU with tensor cores it runs on fleuve's WGSL decoder (f16 weights, LoRA merged, one token a row a step; up to 16 rows five fused dispatches a layer), else on the tfjs runtime; --engine chooses, stderr says which."
  ),
  Command.withExamples([
    { command: "fleuve model generate --model ./Qwen3-0.6B --input prompts.jsonl --max-new-tokens 32 --stop \"\\n\"", description: "Answers cut at the first newline" },
    { command: "fleuve model generate --model ./Qwen3-0.6B --backend webgpu --engine tfjs --input prompts.jsonl", description: "The tfjs runtime on the GPU, e.g. to compare with the decoder" }
  ])
)

export const modelCommand = Command.make("model").pipe(
  Command.withDescription("Run a Qwen3 checkpoint (Hugging Face folder) from TypeScript: log-prob scoring and greedy generation"),
  Command.withExamples([
    { command: "fleuve model logprobs --model ./Qwen3-0.6B --input options.jsonl", description: "Score continuations (fleuve model logprobs --help for the line format)" },
    { command: "fleuve model generate --model ./Qwen3-0.6B --input prompts.jsonl", description: "Greedy answers to prompts" }
  ]),
  Command.withSubcommands([logprobs, generate])
)
