/**
 * A study as a graph of steps, each keyed by the hash of everything that decides its output: its
 * settings (defaults filled in), the identity of its input files (fingerprint.ts), the keys of the
 * steps it reads, and the code version of its kind. A step whose key was already done is not run
 * again; change one adapter's learning rate and only that adapter's key moves, then the keys of
 * the steps that read it (its system's grid rows, the analyses, the report).
 *
 *   corpus ─┐
 *   base ───┴─▶ train:<stage> … ─▶ score:<system> … ─▶ analyze ─▶ report
 *        (import:<system> for lm-eval samples; judges after the reference's grid; heldout after the models)
 */
import { readFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { defaultLoraConfig, type LoraConfig, type ProjectionName } from "../../model/index.ts"
import { type DatasetManifest, readManifest } from "../../operators/qa/loaders/manifest.ts"
import { DEFAULT_PROMPTS } from "../../operators/qa/prompts/templates.ts"
import type { TaskName } from "../../schemas/common.ts"
import { Effect } from "effect"
import { fingerprint, hashValue } from "./fingerprint.ts"
import { type Study, type StudySystem, systemSource, type SystemSource, type TrainingStage } from "./study-file.ts"

/**
 * Bumped when a kind of step computes differently for the same inputs: its old outputs then no
 * longer count as done. (The backend and the engine are not part of any key: they change how fast
 * a step runs, not what it computes, within float tolerance.)
 */
export const STEP_CODE_VERSIONS = { corpus: 1, base: 1, train: 1, score: 1, import: 1, judges: 1, heldout: 1, analyze: 1, report: 2 } as const
export type StepKind = keyof typeof STEP_CODE_VERSIONS

export interface ResolvedTraining {
  readonly data: "corpus" | { readonly tasks: ReadonlyArray<TaskName> } | { readonly file: string }
  readonly lora: LoraConfig | undefined
  /** QLoRA: the frozen base in NF4 on the WGSL trainer (lora.nf4); absent otherwise, so the keys of studies without it are unchanged */
  readonly nf4?: true
  /** A LoRA stage folded into its base: the output is a plain checkpoint. */
  readonly merge: boolean
  readonly steps: number | undefined
  readonly epochs: number | undefined
  readonly learningRate: number
  readonly warmupRatio: number
  readonly microBatch: number
  readonly gradAccumulation: number
  readonly weightDecay: number | undefined
  readonly maxGradNorm: number
  readonly maxTokens: number
  readonly seed: number
}

export type StepSpec =
  | { readonly kind: "corpus"; readonly input: string; readonly configFile: string | undefined; readonly config: unknown; readonly sequenceLength: number; readonly tokenizer: string }
  | { readonly kind: "base"; readonly checkpoint: string } | { readonly kind: "base"; readonly scratch: NonNullable<Study["spec"]["base"]["scratch"]>; readonly tokenizer: string; readonly pretrain: ResolvedTraining | undefined }
  | { readonly kind: "train"; readonly stage: string; readonly from: string; readonly training: ResolvedTraining; readonly backend: string | undefined; readonly engine: string | undefined }
  | { readonly kind: "score"; readonly system: StudySystem; readonly source: SystemSource }
  | { readonly kind: "import"; readonly system: StudySystem; readonly source: Extract<SystemSource, { _tag: "LmEval" }> }
  | { readonly kind: "judges"; readonly system: string; readonly shots: number; readonly sample: number }
  | { readonly kind: "heldout"; readonly file: string; readonly systems: ReadonlyArray<string> }
  | { readonly kind: "analyze" }
  | { readonly kind: "report" }

export interface PlannedStep {
  /** `corpus`, `base`, `train:<stage>`, `score:<system>`, `import:<system>`, `heldout`, `analyze`, `report`. */
  readonly id: string
  readonly spec: StepSpec
  readonly deps: ReadonlyArray<string>
  readonly key: string
  /** Where the step keeps its files (models, shards): under the study's output folder, named by step and key. */
  readonly dir: string
  /** What the step will do, for the plan's printout. */
  readonly describe: string
  /** Work estimate: tokens to train (undefined: one pass over data not yet built), grid requests to answer. */
  readonly tokens?: number | undefined
  readonly requests?: number | undefined
}

export interface DatasetsPlan {
  readonly manifest: DatasetManifest
  /** Folder the manifest's paths are relative to, and its label in errors. */
  readonly base: string
  readonly label: string
  readonly tasks: ReadonlyArray<TaskName>
  readonly limit: Partial<Record<TaskName, number>>
  readonly prompts: string
  /** Test items per task (after the limit), for estimates. */
  readonly items: Partial<Record<TaskName, number>>
  /** Training-pool items per task, for estimates. */
  readonly pools: Partial<Record<TaskName, number>>
}

export interface StudyPlan {
  readonly study: Study
  readonly out: string
  readonly steps: ReadonlyArray<PlannedStep>
  readonly datasets: DatasetsPlan
  readonly shots: ReadonlyArray<number>
}

const largestDivisorAtMost = (n: number, cap: number) => {
  for (let d = Math.min(n, cap); d > 1; d--) if (n % d === 0) return d
  return 1
}

/** A stage's settings with fleuve's defaults (the EnMed card's where it states them): docs/study.md. */
export const resolveTraining = (t: Omit<TrainingStage, "from" | "data" | "merge"> & { readonly merge?: boolean | undefined }, data: ResolvedTraining["data"], defaultMaxTokens: number): ResolvedTraining => {
  const effective = t.effectiveBatch ?? (t.microBatch !== undefined ? t.microBatch : 16)
  const micro = t.microBatch ?? largestDivisorAtMost(effective, 4)
  return {
    data,
    lora: t.lora
      ? {
        r: t.lora.r ?? defaultLoraConfig.r,
        alpha: t.lora.alpha ?? defaultLoraConfig.alpha,
        dropout: t.lora.dropout ?? defaultLoraConfig.dropout,
        targetModules: (t.lora.targets ?? defaultLoraConfig.targetModules) as ReadonlyArray<ProjectionName>
      }
      : undefined,
    merge: t.lora !== undefined && t.merge === true,
    ...(t.lora?.nf4 === true ? { nf4: true as const } : {}),
    steps: t.steps,
    epochs: t.steps === undefined ? (t.epochs ?? 1) : undefined,
    learningRate: t.learningRate ?? 2e-4,
    warmupRatio: t.warmupRatio ?? 0.03,
    microBatch: micro,
    gradAccumulation: Math.max(1, Math.round(effective / micro)),
    weightDecay: t.weightDecay,
    maxGradNorm: t.maxGradNorm ?? 1,
    maxTokens: t.maxTokens ?? defaultMaxTokens,
    seed: t.seed ?? 42
  }
}

const stepDir = (out: string, id: string, key: string) => join(out, "steps", `${id.replace(/[^A-Za-z0-9._-]+/g, "-")}-${key.slice(0, 12)}`)

/** The datasets' manifest (a file's or inline), its task list, and the identity of every file it names. */
const planDatasets = (study: Study) =>
  Effect.gen(function*() {
    const d = study.spec.datasets
    const manifestFile = d.manifest !== undefined ? resolve(study.dir, d.manifest) : undefined
    const manifest: DatasetManifest = manifestFile !== undefined ? yield* readManifest(manifestFile) : { name: d.name!, tasks: d.tasks! as DatasetManifest["tasks"] }
    const base = manifestFile !== undefined ? resolve(manifestFile, "..") : study.dir
    const available = Object.keys(manifest.tasks) as Array<TaskName>
    const tasks = d.only ? d.only.filter((t) => available.includes(t)) : available
    const missing = (d.only ?? []).filter((t) => !available.includes(t))
    if (missing.length > 0) return yield* Effect.fail(new Error(`${study.file}: datasets.only names ${missing.join(", ")}, which the datasets do not have (they have ${available.join(", ")})`))
    const limit = (d.limit ?? {}) as Partial<Record<TaskName, number>>
    const items: Partial<Record<TaskName, number>> = {}
    const pools: Partial<Record<TaskName, number>> = {}
    const test: Record<string, string> = {}
    const train: Record<string, string> = {}
    for (const t of tasks) {
      const files = manifest.tasks[t]!
      const testFile = resolve(base, files.test)
      test[t] = fingerprint(testFile)
      if (files.train) {
        train[t] = fingerprint(resolve(base, files.train))
        pools[t] = countRecords(resolve(base, files.train))
      }
      const lines = countRecords(testFile)
      items[t] = limit[t] !== undefined ? Math.min(limit[t]!, lines) : lines
    }
    const prompts = d.prompts !== undefined ? resolve(study.dir, d.prompts) : DEFAULT_PROMPTS
    return {
      plan: { manifest, base, label: manifestFile ?? `${study.file} (datasets)`, tasks, limit, prompts, items, pools } satisfies DatasetsPlan,
      identity: { manifest, tasks, limit, test, prompts: fingerprint(prompts) },
      trainIdentity: { manifest, train, prompts: fingerprint(prompts) }
    }
  })

/** Non-empty lines (JSONL) or, for JSON and other formats, an estimate of 1: only used for work estimates. */
const countRecords = (file: string): number => {
  try {
    const text = readFileSync(file, "utf8")
    return file.endsWith(".jsonl") ? text.split("\n").filter((l) => l.trim() !== "").length : Math.max(1, (JSON.parse(text) as { data?: Array<unknown> }).data?.length ?? 1)
  } catch {
    return 1
  }
}

/** Plans a study: every step, its dependencies and its key, in an order that runs dependencies first. */
export const planStudy = (study: Study, out: string) =>
  Effect.gen(function*() {
    const spec = study.spec
    const at = (p: string) => resolve(study.dir, p)
    const steps = new Map<string, PlannedStep>()
    const add = (id: string, s: StepSpec, deps: ReadonlyArray<string>, identity: unknown, describe: string, work: { tokens?: number | undefined; requests?: number | undefined } = {}) => {
      const key = hashValue({ kind: s.kind, code: STEP_CODE_VERSIONS[s.kind], identity, deps: deps.map((d) => steps.get(d)!.key) })
      steps.set(id, { id, spec: s, deps, key, dir: stepDir(out, id, key), describe, ...work })
    }
    const { plan: datasets, identity: testIdentity, trainIdentity } = yield* planDatasets(study)
    const shots = spec.shots ?? [0, 3, 5]

    // The tokenizer the corpus is packed with is the base's own.
    const tokenizerDir = spec.base.checkpoint !== undefined ? at(spec.base.checkpoint) : at(spec.base.scratch!.tokenizer)
    const tokenizer = join(tokenizerDir, "tokenizer.json")

    if (spec.base.checkpoint !== undefined) {
      const dir = at(spec.base.checkpoint)
      add("base", { kind: "base", checkpoint: dir }, [], { checkpoint: fingerprint(dir) }, `the checkpoint ${dir}`)
    } else {
      const scratch = spec.base.scratch!
      const pretrain = scratch.pretrain ? resolveTraining(scratch.pretrain, { file: at(scratch.pretrain.data) }, 128) : undefined
      const tokens = pretrain?.steps !== undefined ? pretrain.steps * pretrain.microBatch * pretrain.gradAccumulation * pretrain.maxTokens : undefined
      add(
        "base",
        { kind: "base", scratch, tokenizer: tokenizerDir, pretrain },
        [],
        { shape: scratch.shape, seed: scratch.seed ?? 42, tokenizer: fingerprint(tokenizerDir), pretrain, pretrainData: pretrain ? fingerprint(at(scratch.pretrain!.data)) : undefined },
        `a ${scratch.shape.layers}-layer, hidden-${scratch.shape.hiddenSize} Qwen3 initialised with seed ${scratch.seed ?? 42}${pretrain ? `, pre-trained on ${scratch.pretrain!.data} (${pretrain.steps ?? `${pretrain.epochs} epoch(s)`} steps)` : ""}`,
        { tokens }
      )
    }

    const stages = spec.training ?? {}
    const usesCorpus = Object.values(stages).some((s) => s.data === "corpus")
    if (spec.corpus && usesCorpus) {
      const c = spec.corpus
      const input = at(c.input)
      const configFile = typeof c.config === "string" ? at(c.config) : undefined
      add(
        "corpus",
        { kind: "corpus", input, configFile, config: typeof c.config === "string" ? undefined : c.config, sequenceLength: c.sequenceLength ?? 512, tokenizer },
        [],
        { input: fingerprint(input), config: configFile ? fingerprint(configFile) : c.config, sequenceLength: c.sequenceLength ?? 512, tokenizer: fingerprint(tokenizer) },
        `clean, deduplicate, tokenize and pack ${c.input} into sequences of ${c.sequenceLength ?? 512} tokens`
      )
    }

    const modelStep = (name: string) => (name === "base" ? "base" : `train:${name}`)
    // Stages in dependency order (the study file was checked for cycles).
    const ordered: Array<string> = []
    const visit = (name: string) => {
      if (name === "base" || ordered.includes(name)) return
      visit(stages[name]!.from)
      ordered.push(name)
    }
    Object.keys(stages).forEach(visit)
    for (const name of ordered) {
      const stage = stages[name]!
      const data: ResolvedTraining["data"] = stage.data === "corpus" ? "corpus" : { tasks: stage.data.tasks }
      const training = resolveTraining(stage, data, stage.data === "corpus" ? (spec.corpus?.sequenceLength ?? 512) : 512)
      const from = modelStep(stage.from)
      const deps = [from, ...(stage.data === "corpus" ? ["corpus"] : [])]
      const perStep = training.microBatch * training.gradAccumulation
      // Epochs over the QA pools: their sizes are known now (the packed corpus's only once it is built).
      const poolSize = stage.data === "corpus" ? undefined : stage.data.tasks.reduce((n, t) => n + (datasets.pools[t] ?? 0), 0)
      const stepCount = training.steps ?? (poolSize !== undefined ? Math.max(1, Math.round(((training.epochs ?? 1) * poolSize) / perStep)) : undefined)
      const tokens = stepCount !== undefined ? stepCount * perStep * training.maxTokens : undefined
      const dataIdentity = stage.data === "corpus" ? "corpus" : { tasks: stage.data.tasks, pools: trainIdentity }
      add(
        `train:${name}`,
        { kind: "train", stage: name, from: stage.from, training, backend: stage.backend ?? spec.runtime?.backend, engine: stage.engine ?? spec.runtime?.engine },
        deps,
        { training, data: dataIdentity },
        `${training.lora ? `${training.nf4 ? "QLoRA (NF4 base)" : "LoRA"} r=${training.lora.r} α=${training.lora.alpha}${training.merge ? ", merged into its base" : ""}` : "full-parameter training"} from ${stage.from} on ${stage.data === "corpus" ? "the packed corpus" : `the ${stage.data.tasks.join("+")} training pools`}, ${training.steps !== undefined ? `${training.steps} steps` : `${training.epochs} epoch(s)`} of ${perStep} × ${training.maxTokens} tokens, lr ${training.learningRate}`,
        { tokens }
      )
    }

    const judge = spec.judges?.panel[0] ?? { kind: "offline-reference" as const }
    const gridIdentity = { ...testIdentity, shots, decoding: spec.decoding ?? {}, judge: { kind: judge.kind, url: judge.url, model: judge.model } }
    const requestsPerSystem = datasets.tasks.reduce((n, t) => n + (datasets.items[t] ?? 0), 0) * shots.length
    const evaluated: Array<string> = []
    for (const system of spec.systems) {
      const source = systemSource(system, study.dir)
      if (source._tag === "LmEval") {
        add(
          `import:${system.name}`,
          { kind: "import", system, source },
          [],
          { samples: source.samples.map((x) => ({ ...x, file: fingerprint(x.file) })), name: system.name, datasets: datasets.manifest.name },
          `import ${system.name}'s lm-eval samples (${source.samples.map((x) => `${x.task} ${x.shots}-shot`).join(", ")})`
        )
        evaluated.push(`import:${system.name}`)
        continue
      }
      const deps = source._tag === "Model" ? [modelStep(source.adapter !== undefined ? stages[source.adapter]!.from : source.model), ...(source.adapter !== undefined ? [`train:${source.adapter}`] : [])] : []
      const identity = source._tag === "Checkpoint"
        ? { checkpoint: fingerprint(source.dir) }
        : source._tag === "Endpoint"
        ? { url: source.endpoint.url, model: source.endpoint.model, revision: source.endpoint.revision, api: source.endpoint.api, tokenizer: source.endpoint.tokenizer ? fingerprint(at(source.endpoint.tokenizer)) : undefined }
        : source._tag === "Baseline"
        ? { baseline: source.name, pools: trainIdentity }
        : { model: source.model, adapter: source.adapter }
      add(
        `score:${system.name}`,
        { kind: "score", system, source },
        deps,
        { name: system.name, source: identity, grid: gridIdentity },
        `score ${system.name} (${describeSource(source)}) on ${datasets.tasks.join(", ")} × ${shots.join("/")} shots`,
        { requests: requestsPerSystem }
      )
      evaluated.push(`score:${system.name}`)
    }

    const j = spec.judges
    if (j && (j.panel.length > 1 || j.swappedOrder)) {
      const system = spec.analysis.reference
      const sample = j.sample ?? 100
      add(
        "judges",
        { kind: "judges", system, shots: Math.min(...shots), sample },
        [`score:${system}`],
        { panel: j.panel.map((x) => ({ kind: x.kind, url: x.url, model: x.model })), swappedOrder: j.swappedOrder ?? false, sample },
        `judge agreement on ${system}'s AbsQA answers at ${Math.min(...shots)} shots (up to ${sample}): ${j.panel.length} judge(s)${j.swappedOrder ? ", swapped order" : ""}`
      )
    }

    const modelSystems = spec.systems.filter((s) => systemSource(s, study.dir)._tag === "Model").map((s) => s.name)
    if (spec.corpus?.heldout !== undefined && modelSystems.length > 0) {
      const file = at(spec.corpus.heldout)
      const deps = [...new Set(spec.systems.flatMap((s) => {
        const src = systemSource(s, study.dir)
        return src._tag === "Model" ? [modelStep(src.adapter !== undefined ? stages[src.adapter]!.from : src.model), ...(src.adapter !== undefined ? [`train:${src.adapter}`] : [])] : []
      }))]
      add("heldout", { kind: "heldout", file, systems: modelSystems }, deps, { file: fingerprint(file), systems: modelSystems, tokens: spec.corpus.sequenceLength ?? 512 }, `loss on the held-out text ${spec.corpus.heldout} for ${modelSystems.join(", ")}`)
    }
    add("analyze", { kind: "analyze" }, evaluated, { analysis: spec.analysis }, `paired tests, corrections and rankings against ${spec.analysis.reference}`)
    const theme = spec.report?.theme !== undefined ? at(spec.report.theme) : undefined
    add(
      "report",
      { kind: "report" },
      ["analyze", ...["heldout", "judges"].filter((s) => steps.has(s))],
      { theme: theme ? fingerprint(theme) : undefined, name: spec.name, description: spec.description, out },
      `figures, report.md and report.html in ${out}`
    )
    return { study, out, steps: [...steps.values()], datasets, shots } satisfies StudyPlan
  })

export const describeSource = (s: SystemSource): string =>
  s._tag === "Model"
    ? s.adapter !== undefined ? `adapter ${s.adapter}` : s.model === "base" ? "the base model" : `model ${s.model}`
    : s._tag === "Checkpoint"
    ? `checkpoint ${s.dir}`
    : s._tag === "LmEval"
    ? `lm-eval samples (${s.samples.length} file(s))`
    : s._tag === "Baseline"
    ? `baseline ${s.name}`
    : `endpoint ${s.endpoint.model}`
