import { Effect } from "effect"
import { createHash } from "node:crypto"
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import {
  defaultLoraConfig,
  expectedShapes,
  type HostTensor,
  type LoadedModel,
  ModelHandle,
  packedTextSequences,
  parseQwen3Config,
  promptAnswerSequence,
  type RecoveryOptions,
  type StepReport,
  type TrainingSequence,
  writeSafetensors
} from "../../model/index.ts"
import { runTraining } from "../train.ts"

export { describeBackend, onScoringPath, selectBackend, setScoringEngine } from "../../model/index.ts"
import { mulberry32 } from "../../lib/random.ts"
import { OFFLINE_REFERENCE_JUDGE_ID, offlineReferenceJudge } from "../../operators/qa/judge/offline-reference.ts"
import { loadManifest, SAMPLE_MANIFEST } from "../../operators/qa/loaders/manifest.ts"
import { loadPromptSet } from "../../operators/qa/prompts/templates.ts"
import type { QaModel } from "../../operators/qa/model.ts"
import { modelRevisionOf, qwen3QaModel } from "../../operators/qa/qwen3-model.ts"
import { readArrowShard } from "../../operators/writers/arrow-shards.ts"
import type { TaskData } from "../../operators/qa/loaders/manifest.ts"
import type { PromptSet } from "../../operators/qa/prompts/templates.ts"
import { writeReport } from "../report.ts"
import { buildCorpusRun } from "../corpus.ts"
import { PipelineRuntime, type RunOptions } from "../runtime/runtime.ts"
import type { DemoSteps, TrainingExample } from "./plan.ts"

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..")
/**
 * Bundled inputs: general French prose for the base, a 384-token byte-level BPE, and the demo
 * sample's health corpus for DAPT — generated with the QA sets (scripts/data/build-demo-sample.ts):
 * it states, in other words, the facts the test items ask about. The held-out documents restate
 * some of them with paraphrases the corpus does not use; DAPT never sees them.
 */
export const DEMO_GENERAL_TEXT = join(ROOT, "data/general-fr/prose.txt")
export const DEMO_CORPUS = join(ROOT, "data/corpus/demo.jsonl")
export const DEMO_HELDOUT_CORPUS = join(ROOT, "data/corpus/demo-heldout.jsonl")
export const DEMO_TOKENIZER_DIR = join(ROOT, "data/demo-tokenizer")

/** How much work each step does: the default fits 10 minutes on 2 CPU cores, `quick` the test suite. */
export interface DemoSizes {
  readonly pretrainSteps: number
  readonly daptSteps: number
  readonly loraSteps: number
  /** Sequences per optimizer step. */
  readonly batch: number
  /** Tokens per pre-training / DAPT sequence. */
  readonly seqLen: number
  /** Tokens per LoRA (prompt + answer) sequence. */
  readonly loraSeqLen: number
  /** Context window of the tiny model: longer k-shot prompts lose their oldest tokens. */
  readonly contextWindow: number
  /** Test items per task (undefined: all). */
  readonly itemsPerTask: number | undefined
  readonly shots: ReadonlyArray<number>
  /** Cap on generated tokens (ExtQA/AbsQA): an untrained tiny model rarely stops by itself. */
  readonly maxNewTokens: number
}

export const demoSizes = (quick: boolean): DemoSizes =>
  quick
    ? { pretrainSteps: 2, daptSteps: 2, loraSteps: 1, batch: 2, seqLen: 48, loraSeqLen: 96, contextWindow: 96, itemsPerTask: 3, shots: [0, 3], maxNewTokens: 6 }
    : { pretrainSteps: 10, daptSteps: 10, loraSteps: 3, batch: 4, seqLen: 64, loraSeqLen: 128, contextWindow: 160, itemsPerTask: 6, shots: [0, 3, 5], maxNewTokens: 16 }

/**
 * The tiny Qwen3 shape: 2 layers, hidden 64, GQA (4 query heads over 2 key/value heads).
 * Small enough to pre-train, adapt and evaluate on two CPU cores in minutes.
 */
export const tinyQwen3Config = (vocabSize: number, contextWindow: number, eosTokenId: number) => ({
  architectures: ["Qwen3ForCausalLM"],
  model_type: "qwen3",
  attention_bias: false,
  attention_dropout: 0,
  bos_token_id: eosTokenId,
  eos_token_id: eosTokenId,
  pad_token_id: eosTokenId,
  head_dim: 16,
  hidden_act: "silu",
  hidden_size: 64,
  intermediate_size: 192,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: contextWindow,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  tie_word_embeddings: false,
  use_cache: true,
  vocab_size: vocabSize,
  dtype: "float32"
})

/** Writes a randomly initialised checkpoint (normal(0, 0.02), norms at 1) with a fixed seed. */
export const writeRandomCheckpoint = (dir: string, tokenizerDir: string, contextWindow: number, seed: number): void => {
  const tokenizer = JSON.parse(readFileSync(join(tokenizerDir, "tokenizer.json"), "utf8")) as { model: { vocab: Record<string, number> }; added_tokens?: Array<{ id: number; content: string }> }
  const ids = [...Object.values(tokenizer.model.vocab), ...(tokenizer.added_tokens ?? []).map((t) => t.id)]
  const eos = (tokenizer.added_tokens ?? []).find((t) => t.content === "<|endoftext|>")?.id ?? 0
  const raw = tinyQwen3Config(Math.max(...ids) + 1, contextWindow, eos)
  const rand = mulberry32(seed)
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())
  const host = new Map<string, HostTensor>()
  for (const [name, shape] of expectedShapes(parseQwen3Config(raw))) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1))
    if (name.endsWith("norm.weight")) data.fill(1)
    else for (let i = 0; i < data.length; i++) data[i] = 0.02 * normal()
    host.set(name, { shape, data })
  }
  mkdirSync(dir, { recursive: true })
  writeSafetensors(join(dir, "model.safetensors"), host, { metadata: { format: "pt" } })
  writeFileSync(join(dir, "config.json"), JSON.stringify(raw, null, 2))
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) if (existsSync(join(tokenizerDir, f))) copyFileSync(join(tokenizerDir, f), join(dir, f))
}

/** The prompt set with generation capped at `maxNewTokens` (the cap is part of each request's decoding, hence of its cache key). */
export const capDecoding = (prompts: PromptSet, maxNewTokens: number): PromptSet => ({
  ...prompts,
  tasks: Object.fromEntries(Object.entries(prompts.tasks).map(([task, t]) => [task, { ...t, decoding: { ...t.decoding, maxNewTokens: Math.min(t.decoding.maxNewTokens, maxNewTokens) } }])) as PromptSet["tasks"]
})

/** What every demo report says first. */
export const demoNote = `Produced by \`fleuve demo\` with a tiny Qwen3-shaped model trained for a few steps on two CPU cores: the numbers are illustrative, not EnMed's. ` +
  `AbsQA is judged by the offline reference judge (${OFFLINE_REFERENCE_JUDGE_ID}: token F1 against the reference answer mapped to 1-5), not by an LLM.`

/** Test splits cut to the first `n` items of each task (the training pools stay whole for the shots). */
export const limitItems = (tasks: ReadonlyArray<TaskData>, n: number | undefined): Array<TaskData> =>
  tasks.map((t) => (n === undefined ? t : { ...t, test: t.test.slice(0, n) }))

export interface DemoStepsOptions {
  readonly outDir: string
  readonly sizes: DemoSizes
  /** A real Hugging Face Qwen3 checkpoint to use as the base instead of pre-training the tiny one. */
  readonly modelDir?: string
  readonly seed?: number
  readonly log: (line: string) => void
  readonly onStep?: (label: string) => (r: StepReport) => void
  readonly corpusRun?: RunOptions
}

const promise = <A>(label: string, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: (e) => new Error(`${label}: ${e instanceof Error ? e.message : String(e)}`) })

/**
 * The model steps of `fleuve demo` on the tfjs Qwen3 runtime. Every model lands as a Hugging Face
 * folder under `<out>/models/` (base/, dapt/, lora-<name>/), so each system of the warehouse can be
 * reloaded, by fleuve or by transformers/PEFT.
 */
export const demoSteps = (o: DemoStepsOptions): DemoSteps<PipelineRuntime | import("../../warehouse/warehouse.ts").Warehouse> => {
  const seed = o.seed ?? 42
  const models = join(o.outDir, "models")
  // A lost GPU device is said in the demo's log, reopened, and the model being used loaded again.
  const recovery: RecoveryOptions = { onLoss: o.log }
  // Which checkpoint folder each QaModel came from: DAPT and LoRA start from it.
  const dirs = new WeakMap<QaModel, string>()
  const remember = (m: QaModel, dir: string) => (dirs.set(m, dir), m)
  const settings = (peakLr = 3e-3) => ({
    microBatch: o.sizes.batch,
    gradAccumulation: 1,
    peakLr,
    // No warmup: with the demo's few steps a linear warmup would spend the first (or only) step at lr 0.
    warmupRatio: 0,
    seed
  })
  const fullTraining = (label: string, from: string, to: string, sequences: (m: LoadedModel) => Array<TrainingSequence> | Promise<Array<TrainingSequence>>, steps: number) =>
    promise(label, async () => {
      rmSync(to, { recursive: true, force: true })
      // a lost GPU device reloads `from`, and training resumes from the last checkpoint in `to`
      const { losses, handle } = await runTraining({
        from,
        to,
        sequences: async (m) => {
          const data = await sequences(m)
          if (data.length === 0) throw new Error(`no training sequence of ${o.sizes.seqLen} tokens`)
          return data
        },
        steps,
        settings: settings(),
        seed,
        recovery,
        log: (line) => o.log(`${label}: ${line}`),
        ...(o.onStep ? { onStep: o.onStep(label) } : {})
      })
      o.log(`${label}: loss ${losses[0]?.toFixed(3)} → ${losses[losses.length - 1]?.toFixed(3)}`)
      handle.dispose()
      const final = join(to, "final")
      return remember(qwen3QaModel(ModelHandle.load({ dir: final }, recovery), { modelId: `fleuve-demo/${label}` }), final)
    })

  const pretrainBase: DemoSteps<never>["pretrainBase"] = o.modelDir
    ? Effect.sync(() => {
      o.log(`base: using the checkpoint ${o.modelDir} (no pre-training)`)
      return remember(qwen3QaModel(ModelHandle.load({ dir: o.modelDir! }, recovery)), o.modelDir!)
    })
    : Effect.suspend(() => {
      const init = join(models, "init")
      writeRandomCheckpoint(init, DEMO_TOKENIZER_DIR, o.sizes.contextWindow, seed)
      const lines = readFileSync(DEMO_GENERAL_TEXT, "utf8").split("\n").filter((l) => l.trim() !== "")
      return fullTraining("base", init, join(models, "base"), (m) => packedTextSequences(m.tokenizer, lines, o.sizes.seqLen), o.sizes.pretrainSteps)
    })

  const dapt = (base: QaModel) =>
    Effect.gen(function*() {
      const from = dirs.get(base)
      if (!from) return yield* Effect.fail(new Error("dapt: the base model has no checkpoint folder"))
      // The corpus pipeline (clean, dedup, tokenize with the model's own tokenizer, pack) writes Arrow shards.
      const shards = join(o.outDir, "corpus")
      rmSync(shards, { recursive: true, force: true })
      const run = yield* buildCorpusRun({ input: DEMO_CORPUS, outDir: shards, tokenizer: join(from, "tokenizer.json"), sequenceLength: o.sizes.seqLen, incremental: false })
      const runtime = yield* PipelineRuntime
      const report = yield* runtime.run(run.pipeline, { partitions: 1, ...o.corpusRun })
      // The packer's last sequence may be short; training batches need one length.
      const sequences = run.writer.written.flatMap((f) => readArrowShard(f)).filter((s) => s.ids.length === o.sizes.seqLen).map((s) => ({ ids: s.ids }))
      o.log(`dapt: corpus pipeline kept ${run.ledger.processed.size} of ${run.ledger.seen.size} documents, ${sequences.length} packed sequences, ${report.deadLetters.length} dead letters`)
      return yield* fullTraining("dapt", from, join(models, "dapt"), () => sequences, o.sizes.daptSteps)
    })

  const trainLora = (backbone: QaModel, name: string, examples: ReadonlyArray<TrainingExample>) =>
    Effect.suspend(() => {
      const from = dirs.get(backbone)
      if (!from) return Effect.fail(new Error(`${name}: the backbone has no checkpoint folder`))
      return promise(name, async () => {
        const to = join(models, `lora-${name}`)
        rmSync(to, { recursive: true, force: true })
        const lora = defaultLoraConfig
        let shortened = 0
        const { losses, handle } = await runTraining({
          lora,
          from,
          to,
          sequences: (loaded) => {
            const data = examples.map((ex) => {
              try {
                return promptAnswerSequence(loaded.tokenizer, ex.prompt, ex.completion, o.sizes.loraSeqLen)
              } catch {
                // An answer longer than the sequence cannot be a whole target: its beginning is kept, and counted.
                shortened++
                return promptAnswerSequence(loaded.tokenizer, ex.prompt, ex.completion.slice(0, Math.floor(o.sizes.loraSeqLen / 4)), o.sizes.loraSeqLen)
              }
            })
            if (data.length === 0) throw new Error(`no example fits ${o.sizes.loraSeqLen} tokens`)
            o.log(`${name}: LoRA r=${lora.r} α=${lora.alpha} on ${data.length} examples${shortened ? ` (${shortened} answers over ${o.sizes.loraSeqLen} tokens shortened)` : ""}`)
            return data
          },
          steps: o.sizes.loraSteps,
          settings: settings(1e-3),
          seed,
          recovery,
          log: (line) => o.log(`${name}: ${line}`),
          ...(o.onStep ? { onStep: o.onStep(name) } : {})
        })
        o.log(`${name}: loss ${losses[0]?.toFixed(3)} → ${losses[losses.length - 1]?.toFixed(3)}`)
        const adapterHash = createHash("sha256").update(readFileSync(join(to, "final", "adapter_model.safetensors"))).digest("hex")
        // The trained pairs stay attached: this QaModel is the backbone plus the adapter (which a
        // lost device reloads from the saved adapter).
        return qwen3QaModel(ModelHandle.adopt(handle.current, { dir: from, adapter: join(to, "final") }, recovery), { modelId: backbone.modelId, modelRevision: modelRevisionOf(from), adapterHash })
      })
    })

  // The demo's report says what its numbers are: a tiny model's, with AbsQA judged offline.
  const report = writeReport({
    out: o.outDir,
    reference: "base",
    onFigure: (id, title) => o.log(`figure ${id}: ${title}`),
    amend: (f) =>
      f.path === "report.md"
        ? f.content.replace(/^(# .*\n)/, `$1\n> ${demoNote}\n`)
        : f.path === "report.html"
        ? f.content.replace("</h1>", `</h1>\n<p class="note"><strong>fleuve demo.</strong> ${demoNote.replaceAll("`", "")}</p>`)
        : f.content
  }).pipe(Effect.as(join(o.outDir, "report.html")))

  return { pretrainBase, dapt, trainLora, report }
}

/**
 * What the demo evaluates: the bundled sample's tasks (cut to `sizes.itemsPerTask`), the prompts
 * with generation capped for the tiny model, and the offline reference judge (no LLM needed).
 */
export const demoInputs = (sizes: DemoSizes) =>
  Effect.map(loadManifest(SAMPLE_MANIFEST), ({ tasks }) => ({
    tasks: limitItems(tasks, sizes.itemsPerTask),
    prompts: capDecoding(loadPromptSet(), sizes.maxNewTokens),
    source: SAMPLE_MANIFEST,
    judge: offlineReferenceJudge
  }))
