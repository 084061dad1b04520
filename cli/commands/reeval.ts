import { Command } from "effect/cli"
import { lazyHandler } from "../lazy.ts"
import { reevalFlags } from "../flags/reeval.ts"

export const reevalCommand = Command.make("reeval", reevalFlags, (args) => lazyHandler(() => import("../handlers/reeval.ts"), (h) => h.reevalHandler(args))).pipe(
  Command.withDescription(
    "Re-evaluate after a dataset change: items are compared by content hash, only new or changed items (or changed prompts) are scored, removed items are retired with their scores (kept in score_history)."
  ),
  Command.withExamples([
    { command: "fleuve reeval", description: "Score the bundled sample data with the char-3gram baseline, 0/3/5 shots" },
    { command: "fleuve reeval --manifest my-bench.json --shots 0,5 --tasks mcqa", description: "Only MCQA of your own benchmark" },
    { command: "fleuve reeval --judge-url http://localhost:8000 --judge-model Qwen3-14B", description: "AbsQA judged by an OpenAI-compatible server" },
    { command: "FLEUVE_JUDGE_API_KEY=sk-... fleuve reeval --judge-url https://api.example.com --judge-model gpt-x", description: "A hosted judge with an API key (a run where every judge call fails exits 1)" },
    { command: "fleuve reeval --watch --interval 10", description: "Re-evaluate whenever a dataset file changes" },
    { command: "fleuve reeval --model ./Qwen3-0.6B --backend webgpu --systems char-3gram", description: "Score a real checkpoint next to the baseline" },
    { command: "fleuve reeval --model ./Qwen3-0.6B --backend webgpu --engine wgsl --tasks mcqa", description: "MCQA options scored on fleuve's WGSL engine (required: fails without tensor cores)" },
    { command: "fleuve reeval --endpoint http://localhost:8000 --endpoint-model Qwen/Qwen3-14B --endpoint-tokenizer ./Qwen3-14B --endpoint-revision 40c0e43 --endpoint-concurrency 32", description: "Score a model served by vLLM (tensor-parallel over several GPUs): exact lm-eval boundary from its tokenizer, revision in the cache key" },
    { command: "FLEUVE_ENDPOINT_API_KEY=sk-... fleuve reeval --endpoint https://inference.example/v1 --endpoint-model qwen3-14b --endpoint-api chat --tasks extqa,absqa", description: "A hosted server that only offers chat: generation tasks through /v1/chat/completions, the key from the environment" },
    { command: "fleuve reeval --endpoint http://127.0.0.1:8080 --endpoint-model qwen3 --endpoint-concurrency 1 --tasks mcqa", description: "llama.cpp's Python server (one request at a time keeps its prefix cache warm; serve it with --kv_overrides tokenizer.ggml.add_bos_token=bool:true)" },
    {
      command: "fleuve reeval --runtime kafka --endpoint http://vllm:8000 --endpoint-model qwen3 --scorer-workers qwen3",
      description: "The grid on Kafka, qwen3's scorer stage left to `fleuve worker predict --pipeline evaluate-qwen3 --endpoint http://vllm:8000 --endpoint-model qwen3` processes; this one lands predictions and scores"
    }
  ])
)
