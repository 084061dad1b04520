/**
 * `fleuve demo` (README command one) is the demo study, studies/demo.yaml, run by `fleuve study`'s
 * runner, with the report's note saying what its numbers are. `--quick` (the suite's run),
 * `--limit` and `--model` adjust the decoded study before it is planned, so each variant has its
 * own step keys and outputs.
 */
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { OFFLINE_REFERENCE_JUDGE_ID } from "../../operators/qa/judge/offline-reference.ts"
import { runStudy, type StudyOptions } from "../study/run.ts"
import type { Study, StudyFile } from "../study/study-file.ts"

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..")
export const DEMO_STUDY = join(ROOT, "studies/demo.yaml")
/**
 * Bundled inputs the demo study names: general French prose for the base, a 384-token byte-level
 * BPE, and the demo sample's health corpus for DAPT — generated with the QA sets
 * (scripts/data/build-demo-sample.ts): it states, in other words, the facts the test items ask
 * about. The held-out documents restate some of them with paraphrases the corpus does not use.
 */
export const DEMO_GENERAL_TEXT = join(ROOT, "data/general-fr/prose.txt")
export const DEMO_CORPUS = join(ROOT, "data/corpus/demo.jsonl")
export const DEMO_HELDOUT_CORPUS = join(ROOT, "data/corpus/demo-heldout.jsonl")
export const DEMO_TOKENIZER_DIR = join(ROOT, "data/demo-tokenizer")

export interface DemoVariant {
  /** The suite's shortened run: at most 2 steps a stage (1 for adapters), 3 items per task, 0 and 3 shots. */
  readonly quick: boolean
  /** Test items per task. */
  readonly limit?: number | undefined
  /** A Hugging Face Qwen3 checkpoint as the base (no pre-training). */
  readonly model?: string | undefined
}

const capSteps = <T extends { readonly steps?: number | undefined; readonly epochs?: number | undefined }>(t: T, max: number): T => ({ ...t, steps: Math.min(t.steps ?? max, max), epochs: undefined })

/** The demo study as this variant of `fleuve demo` asks for it. */
export const demoStudy = (v: DemoVariant) => (study: Study): Study => {
  let spec: StudyFile = study.spec
  if (v.model !== undefined) spec = { ...spec, base: { checkpoint: resolve(v.model) } }
  if (v.quick) {
    spec = {
      ...spec,
      base: spec.base.scratch?.pretrain ? { ...spec.base, scratch: { ...spec.base.scratch, pretrain: capSteps(spec.base.scratch.pretrain, 2) } } : spec.base,
      training: Object.fromEntries(Object.entries(spec.training ?? {}).map(([name, t]) => [name, capSteps(t, t.lora ? 1 : 2)])),
      datasets: { ...spec.datasets, limit: { mcqa: 3, extqa: 3, absqa: 3 } },
      shots: [0, 3]
    }
  }
  if (v.limit !== undefined) spec = { ...spec, datasets: { ...spec.datasets, limit: { mcqa: v.limit, extqa: v.limit, absqa: v.limit } } }
  return { ...study, spec }
}

/** What every demo report says first. */
export const demoNote = `Produced by \`fleuve demo\` (the study studies/demo.yaml) with a tiny Qwen3-shaped model trained on two CPU cores: the numbers are illustrative, not EnMed's. ` +
  `AbsQA is judged by the offline reference judge (${OFFLINE_REFERENCE_JUDGE_ID}: token F1 against the reference answer mapped to 1-5), not by an LLM.`

/** The demo's note at the top of report.md and report.html. */
export const amendDemoReport = (f: { readonly path: string; readonly content: string }): string =>
  f.path === "report.md"
    ? f.content.replace(/^(# .*\n)/, `$1\n> ${demoNote}\n`)
    : f.path === "report.html"
    ? f.content.replace("</h1>", `</h1>\n<p class="note"><strong>fleuve demo.</strong> ${demoNote.replaceAll("`", "")}</p>`)
    : f.content

export const runDemo = (v: DemoVariant, o: Omit<StudyOptions, "file" | "adjust" | "amendReport">) =>
  runStudy({ ...o, file: DEMO_STUDY, adjust: demoStudy(v), amendReport: amendDemoReport })
