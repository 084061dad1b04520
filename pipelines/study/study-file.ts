/**
 * The study file (`fleuve study FILE`, docs/study.md): a whole protocol as data — corpus, base
 * model, training stages, systems, datasets, judges, analyses, report. YAML or JSON, decoded
 * strictly by the Schema below (unknown keys are errors with the nearest valid name), then
 * checked for what a Schema cannot see alone (a system naming a stage that does not exist, a
 * cycle between stages). Every error reads `file:line: key.path: problem`. Paths inside the file
 * are relative to the file.
 *
 * Version 1. A change that reads old files differently gets a new version number.
 */
import { Schema } from "effect"
import { dirname, resolve } from "node:path"
import { backendNames, projectionNames, scoringEngineNames } from "../../model/index.ts"
import { ConfigFileError, type ConfigSource, decodeConfig, formatProblem, readConfigSource } from "../../schemas/config-file.ts"
import { didYouMean } from "../../lib/nearest-name.ts"
import { TaskFiles } from "../../operators/qa/loaders/manifest.ts"
import { CorpusConfig, SequenceLength } from "../corpus-config.ts"

export const STUDY_FILE_VERSION = 1

const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))
const Probability = Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 }))
const LearningRate = Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 10 }))
const Name = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9][A-Za-z0-9._-]*$/))
const Path = Schema.NonEmptyString
const Task = Schema.Literals(["mcqa", "extqa", "absqa"])
const Backend = Schema.Literals(backendNames)
const Engine = Schema.Literals(scoringEngineNames)

/** The tiny-model shape a from-scratch base is initialised with (Hugging Face config names in docs/study.md). */
const ModelShape = Schema.Struct({
  hiddenSize: PositiveInt,
  intermediateSize: PositiveInt,
  layers: PositiveInt,
  heads: PositiveInt,
  kvHeads: PositiveInt,
  headDim: PositiveInt,
  /** Positions the model attends over; longer k-shot prompts lose their oldest tokens. */
  contextWindow: PositiveInt,
  ropeTheta: Schema.optional(Schema.Finite.check(Schema.isGreaterThan(0))),
  tieEmbeddings: Schema.optional(Schema.Boolean)
})

/** The optimiser and schedule of one training stage (defaults in docs/study.md). */
const Optimisation = {
  /** Optimizer steps; 0 trains nothing (the stage's output is its input, unchanged). */
  steps: Schema.optional(Count),
  /** Passes over the data, when `steps` is not given. */
  epochs: Schema.optional(Schema.Finite.check(Schema.isGreaterThan(0))),
  learningRate: Schema.optional(LearningRate),
  schedule: Schema.optional(Schema.Literals(["cosine"])),
  warmupRatio: Schema.optional(Probability),
  /** Sequences per optimizer step (micro-batch × gradient accumulation). */
  effectiveBatch: Schema.optional(PositiveInt),
  microBatch: Schema.optional(PositiveInt),
  weightDecay: Schema.optional(Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))),
  maxGradNorm: Schema.optional(Schema.Finite.check(Schema.isGreaterThan(0))),
  /** Tokens per training sequence (packed text, or prompt + answer). */
  maxTokens: Schema.optional(SequenceLength),
  seed: Schema.optional(Count),
  /** Save a resumable checkpoint every N steps (default: about every tenth of the run). */
  checkpointEvery: Schema.optional(Count),
  backend: Schema.optional(Backend),
  engine: Schema.optional(Engine)
}

const LoraSettings = Schema.Struct({
  r: Schema.optional(PositiveInt),
  alpha: Schema.optional(Schema.Finite.check(Schema.isGreaterThan(0))),
  dropout: Schema.optional(Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 0.99 }))),
  targets: Schema.optional(Schema.NonEmptyArray(Schema.Literals(projectionNames))),
  /** QLoRA: the base quantised to NF4 as the WGSL trainer uploads it (fleuve train lora --nf4); an error on any other trainer. */
  nf4: Schema.optional(Schema.Boolean)
})

const Pretraining = Schema.Struct({
  /** General text (.txt: one document a line; .jsonl: {text}). */
  data: Path,
  ...Optimisation
})

const Base = Schema.Struct({
  /** A Hugging Face Qwen3 checkpoint folder. */
  checkpoint: Schema.optional(Path),
  /** Or a model built here: a shape, a tokenizer folder, a seed, and pre-training on general text. */
  scratch: Schema.optional(Schema.Struct({
    tokenizer: Path,
    seed: Schema.optional(Count),
    shape: ModelShape,
    pretrain: Schema.optional(Pretraining)
  }))
})

const Corpus = Schema.Struct({
  /** A file (.jsonl, .jsonl.gz, .csv, .parquet) or a folder of them (and .txt files). */
  input: Path,
  /** The corpus thresholds: inline, or a thresholds file (docs/corpus.md). */
  config: Schema.optional(Schema.Union([Path, CorpusConfig])),
  sequenceLength: Schema.optional(SequenceLength),
  /** Documents kept apart for the held-out loss of each model system (never trained on). */
  heldout: Schema.optional(Path)
})

const TrainingStage = Schema.Struct({
  /** `base`, or another stage's name: the model this stage starts from. */
  from: Schema.String,
  /**
   * `corpus`: the packed corpus (DAPT); or the QA training pools of these tasks, mixed (a multi-task
   * adapter tells the tasks apart by the task identifier line of the prompt set's header).
   */
  data: Schema.Union([Schema.Literals(["corpus"]), Schema.Struct({ tasks: Schema.NonEmptyArray(Task) })]),
  /** Present: a LoRA adapter (over all projections, or `targets`); absent: full-parameter training. */
  lora: Schema.optional(LoraSettings),
  /**
   * With `lora`: fold the trained adapter into its base and hand on a plain checkpoint, which later
   * stages start from and systems name as `model:` (DAPT by LoRA where full-parameter training does not fit).
   */
  merge: Schema.optional(Schema.Boolean),
  ...Optimisation
})

const Endpoint = Schema.Struct({
  url: Path,
  model: Schema.NonEmptyString,
  tokenizer: Schema.optional(Path),
  revision: Schema.optional(Schema.NonEmptyString),
  /** The environment variable holding the API key (the key itself never goes in a study file). */
  apiKeyEnv: Schema.optional(Schema.String.check(Schema.isPattern(/^[A-Z_][A-Z0-9_]*$/))),
  api: Schema.optional(Schema.Literals(["completions", "chat"])),
  concurrency: Schema.optional(PositiveInt),
  timeoutSeconds: Schema.optional(PositiveInt),
  retries: Schema.optional(Count)
})

const System = Schema.Struct({
  name: Schema.String.check(Schema.isPattern(/^[^\s"'`]+( [^\s"'`]+)*$/)),
  /** `base` or a training stage's name (a full-parameter stage's output). */
  model: Schema.optional(Schema.String),
  /** A LoRA stage's name: its adapter over its own base (`model` may name that base, and must match). */
  adapter: Schema.optional(Schema.String),
  checkpoint: Schema.optional(Path),
  /** Log samples written by lm-eval (`--log_samples`), one file per task and shot count: imported, not scored here. */
  lmEvalSamples: Schema.optional(Schema.NonEmptyArray(Schema.Struct({
    file: Path,
    task: Task,
    shots: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 64 })),
    /** Field of lm-eval's `doc` holding the item id (default: its doc_id). */
    idField: Schema.optional(Schema.NonEmptyString)
  }))),
  baseline: Schema.optional(Schema.Literals(["char-2gram", "char-3gram", "char-4gram", "char-5gram"])),
  endpoint: Schema.optional(Endpoint),
  description: Schema.optional(Schema.String)
})

const Datasets = Schema.Struct({
  /** A dataset manifest (docs/qa.md); or `name` and inline `tasks` with their loader formats. */
  manifest: Schema.optional(Path),
  name: Schema.optional(Schema.NonEmptyString),
  tasks: Schema.optional(Schema.Struct({ mcqa: Schema.optional(TaskFiles), extqa: Schema.optional(TaskFiles), absqa: Schema.optional(TaskFiles) })),
  /** Evaluate only these tasks (default: all of the datasets'). */
  only: Schema.optional(Schema.NonEmptyArray(Task)),
  /** Test items scored per task (the first N); absent: all. */
  limit: Schema.optional(Schema.Struct({ mcqa: Schema.optional(PositiveInt), extqa: Schema.optional(PositiveInt), absqa: Schema.optional(PositiveInt) })),
  /** A prompt set (default: data/prompts/enmed-fr.json). */
  prompts: Schema.optional(Path)
})

const Judge = Schema.Struct({
  /** `offline-reference` (token F1 mapped to 1–5, no LLM), or an OpenAI-compatible chat endpoint. */
  kind: Schema.Literals(["offline-reference", "endpoint"]),
  url: Schema.optional(Path),
  model: Schema.optional(Schema.NonEmptyString),
  apiKeyEnv: Schema.optional(Schema.String.check(Schema.isPattern(/^[A-Z_][A-Z0-9_]*$/)))
})

const Judges = Schema.Struct({
  /** The first judge scores AbsQA; the others, with it, measure agreement on the reference's answers. */
  panel: Schema.NonEmptyArray(Judge),
  /** Judge each answer of the agreement sample a second time with the texts in swapped order. */
  swappedOrder: Schema.optional(Schema.Boolean),
  /** AbsQA answers of the reference system (at the fewest shots) the panel and the swapped-order check judge (default 100). */
  sample: Schema.optional(PositiveInt)
})

const Analysis = Schema.Struct({
  /** The system every other is compared with (paired tests, deltas). */
  reference: Schema.String,
  alpha: Schema.optional(Schema.Finite.check(Schema.isBetween({ minimum: 0.0001, maximum: 0.5 }))),
  /** The multiple-testing family: one candidate's cells (`system`) or every candidate × cell (`all`). */
  family: Schema.optional(Schema.Literals(["system", "all"])),
  /** The metric analysed per task (default: acc > f1 > judge > score). */
  metrics: Schema.optional(Schema.Struct({ mcqa: Schema.optional(Schema.String), extqa: Schema.optional(Schema.String), absqa: Schema.optional(Schema.String) })),
  /** Paired tests to compute besides the t-test (always computed: it defines the significance record): default all. */
  tests: Schema.optional(Schema.Array(Schema.Literals(["t", "wilcoxon", "mcnemar", "bootstrap"]))),
  resamples: Schema.optional(PositiveInt),
  seed: Schema.optional(Count)
})

const Report = Schema.Struct({
  /** Where models, the packed corpus and the report go (default: ./fleuve-study-<name>; `--out` overrides). */
  out: Schema.optional(Path),
  /** A Vega-Lite config merged over the house theme (docs/report.md). */
  theme: Schema.optional(Path)
})

export const StudyFile = Schema.Struct({
  version: Schema.Literals([STUDY_FILE_VERSION]),
  name: Name,
  /** One sentence saying what is evaluated on what: the report's opening starts with it. */
  description: Schema.optional(Schema.String),
  corpus: Schema.optional(Corpus),
  base: Base,
  training: Schema.optional(Schema.Record(Name, TrainingStage)),
  systems: Schema.NonEmptyArray(System),
  datasets: Datasets,
  shots: Schema.optional(Schema.NonEmptyArray(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 64 })))),
  judges: Schema.optional(Judges),
  decoding: Schema.optional(Schema.Struct({ maxNewTokens: Schema.optional(PositiveInt) })),
  analysis: Analysis,
  report: Schema.optional(Report),
  /** Defaults for every step: the tensor backend and the scoring engine. */
  runtime: Schema.optional(Schema.Struct({ backend: Schema.optional(Backend), engine: Schema.optional(Engine) }))
})
export type StudyFile = typeof StudyFile.Type
export type TrainingStage = typeof TrainingStage.Type
export type StudySystem = typeof System.Type
export type ModelShape = typeof ModelShape.Type

/** A decoded study, its paths made absolute, with the source it came from (for line numbers). */
export interface Study {
  readonly file: string
  readonly dir: string
  readonly text: string
  readonly spec: StudyFile
}

/** Where a system's predictions come from, once its keys are checked. */
export type SystemSource =
  | { readonly _tag: "Model"; readonly model: string; readonly adapter?: string | undefined }
  | { readonly _tag: "Checkpoint"; readonly dir: string }
  | { readonly _tag: "LmEval"; readonly samples: ReadonlyArray<{ readonly file: string; readonly task: "mcqa" | "extqa" | "absqa"; readonly shots: number; readonly idField?: string | undefined }> }
  | { readonly _tag: "Baseline"; readonly name: string }
  | { readonly _tag: "Endpoint"; readonly endpoint: NonNullable<StudySystem["endpoint"]> }

/** A stage whose output is an adapter over its base (not a model of its own). */
export const isAdapter = (stage: TrainingStage): boolean => stage.lora !== undefined && stage.merge !== true

const SOURCE_KEYS = ["model", "adapter", "checkpoint", "lmEvalSamples", "baseline", "endpoint"] as const

/** Checks a Schema cannot make: references between stages and systems, one source per system, no cycle. */
const crossCheck = (spec: StudyFile, at: (keys: ReadonlyArray<PropertyKey>, text: string) => string): Array<string> => {
  const problems: Array<string> = []
  const stages = spec.training ?? {}
  const stageNames = Object.keys(stages)
  const models = ["base", ...stageNames]
  if (stageNames.includes("base")) problems.push(at(["training", "base"], "training: `base` names the base model; give the stage another name"))
  if ((spec.base.checkpoint === undefined) === (spec.base.scratch === undefined)) {
    problems.push(at(["base"], "base: give exactly one of `checkpoint` (a Hugging Face folder) or `scratch` (a model built here)"))
  }
  for (const [name, stage] of Object.entries(stages)) {
    if (!models.includes(stage.from) || stage.from === name) {
      problems.push(at(["training", name, "from"], `training.${name}.from: no model named '${stage.from}'${didYouMean(stage.from, models)}; models: ${models.join(", ")}`))
    } else if (stage.from !== "base" && isAdapter(stages[stage.from]!)) {
      problems.push(at(["training", name, "from"], `training.${name}.from: '${stage.from}' is a LoRA adapter; a stage starts from the base, a full-parameter stage or a merged LoRA stage (merge: true)`))
    }
    if (stage.merge && !stage.lora) problems.push(at(["training", name, "merge"], `training.${name}.merge: only a LoRA stage (with \`lora\`) has an adapter to merge`))
    if (stage.data === "corpus" && !spec.corpus) problems.push(at(["training", name, "data"], `training.${name}.data: 'corpus' but the study has no \`corpus\` section`))
    if (stage.data === "corpus" && stage.maxTokens !== undefined) problems.push(at(["training", name, "maxTokens"], `training.${name}.maxTokens: a corpus stage trains on the corpus's packed sequences (corpus.sequenceLength)`))
    if (stage.steps !== undefined && stage.epochs !== undefined) problems.push(at(["training", name, "epochs"], `training.${name}: give \`steps\` or \`epochs\`, not both`))
    if (stage.microBatch !== undefined && stage.effectiveBatch !== undefined && stage.effectiveBatch % stage.microBatch !== 0) {
      problems.push(at(["training", name, "effectiveBatch"], `training.${name}.effectiveBatch: ${stage.effectiveBatch} is not a multiple of microBatch ${stage.microBatch}`))
    }
  }
  // A cycle of `from` (a → b → a) has no first stage to train.
  for (const name of stageNames) {
    const seen = new Set<string>()
    for (let cur: string | undefined = name; cur !== undefined && cur !== "base"; cur = stages[cur]?.from) {
      if (seen.has(cur)) {
        problems.push(at(["training", name, "from"], `training.${name}.from: the stages ${[...seen].join(" → ")} form a cycle`))
        break
      }
      seen.add(cur)
    }
  }
  const systemNames = new Set<string>()
  spec.systems.forEach((s, i) => {
    const key = ["systems", i]
    if (systemNames.has(s.name)) problems.push(at([...key, "name"], `systems[${i}].name: '${s.name}' is given twice`))
    systemNames.add(s.name)
    const given = SOURCE_KEYS.filter((k) => s[k] !== undefined && !(k === "model" && s.adapter !== undefined))
    if (given.length !== 1) {
      problems.push(at(key, `systems[${i}] (${s.name}): give exactly one of model, adapter, checkpoint, lmEvalSamples, baseline, endpoint${given.length > 1 ? ` (got ${given.join(", ")})` : ""}`))
      return
    }
    if (s.model !== undefined && !models.includes(s.model)) {
      problems.push(at([...key, "model"], `systems[${i}].model: no model named '${s.model}'${didYouMean(s.model, models)}; models: ${models.join(", ")}`))
    } else if (s.model !== undefined && s.adapter === undefined && s.model !== "base" && isAdapter(stages[s.model]!)) {
      problems.push(at([...key, "model"], `systems[${i}].model: '${s.model}' is a LoRA stage; name it as \`adapter: ${s.model}\``))
    }
    if (s.adapter !== undefined) {
      const stage = stages[s.adapter]
      if (!stage) problems.push(at([...key, "adapter"], `systems[${i}].adapter: no training stage named '${s.adapter}'${didYouMean(s.adapter, stageNames)}`))
      else if (!isAdapter(stage)) problems.push(at([...key, "adapter"], `systems[${i}].adapter: '${s.adapter}' ${stage.lora ? "is merged into its base" : "trains all parameters"}; name it as \`model: ${s.adapter}\``))
      else if (s.model !== undefined && s.model !== stage.from) problems.push(at([...key, "model"], `systems[${i}].model: the adapter '${s.adapter}' was trained on '${stage.from}', not '${s.model}'`))
    }
  })
  if (!systemNames.has(spec.analysis.reference)) {
    problems.push(at(["analysis", "reference"], `analysis.reference: no system named '${spec.analysis.reference}'${didYouMean(spec.analysis.reference, [...systemNames])}`))
  }
  const d = spec.datasets
  if ((d.manifest === undefined) === (d.tasks === undefined)) problems.push(at(["datasets"], "datasets: give exactly one of `manifest` or inline `tasks` (with `name`)"))
  if (d.tasks !== undefined && d.name === undefined) problems.push(at(["datasets"], "datasets: inline `tasks` need a `name` (the datasets' label in the warehouse)"))
  const reference = spec.systems.find((s) => s.name === spec.analysis.reference)
  if (spec.judges && (spec.judges.panel.length > 1 || spec.judges.swappedOrder) && reference?.lmEvalSamples !== undefined) {
    problems.push(at(["judges"], `judges: the agreement check judges ${reference.name}'s answers, but lm-eval samples carry no answers fleuve can re-judge; make the reference a scored system`))
  }
  spec.judges?.panel.forEach((j, i) => {
    if (j.kind === "endpoint" && (j.url === undefined || j.model === undefined)) problems.push(at(["judges", "panel", i], `judges.panel[${i}]: an endpoint judge needs \`url\` and \`model\``))
    if (j.kind === "offline-reference" && (j.url !== undefined || j.model !== undefined || j.apiKeyEnv !== undefined)) problems.push(at(["judges", "panel", i], `judges.panel[${i}]: the offline reference judge takes no url, model or apiKeyEnv`))
  })
  return problems
}

/** Reads, decodes and checks a study file; throws ConfigFileError with one `file:line: key: problem` line per problem. */
export const readStudyFile = (file: string): Study => {
  const path = resolve(file)
  const source: ConfigSource = readConfigSource(path)
  const spec = decodeConfig(StudyFile, source.value, { ...source, file })
  const problems = crossCheck(spec, (keys, text) => formatProblem({ file, lineOf: source.lineOf }, keys, text))
  if (problems.length > 0) throw new ConfigFileError({ file, message: problems.join("\n") })
  return { file: path, dir: dirname(path), text: source.text, spec }
}

/** Where each system's predictions come from. */
export const systemSource = (s: StudySystem, dir: string): SystemSource =>
  s.adapter !== undefined
    ? { _tag: "Model", model: s.model ?? "", adapter: s.adapter }
    : s.model !== undefined
    ? { _tag: "Model", model: s.model }
    : s.checkpoint !== undefined
    ? { _tag: "Checkpoint", dir: resolve(dir, s.checkpoint) }
    : s.lmEvalSamples !== undefined
    ? { _tag: "LmEval", samples: s.lmEvalSamples.map((x) => ({ ...x, file: resolve(dir, x.file) })) }
    : s.baseline !== undefined
    ? { _tag: "Baseline", name: s.baseline }
    : { _tag: "Endpoint", endpoint: s.endpoint! }
