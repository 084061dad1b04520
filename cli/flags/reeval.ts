import { Flag } from "effect/cli"
import { SAMPLE_MANIFEST } from "../../pipelines/names.ts"
import { type ArgsOf } from "../lazy.ts"
import { engineFlag } from "./model-selection.ts"
import { warehouseFlag } from "./warehouse.ts"
import { withDefaultSaid } from "./defaults.ts"

export const reevalFlags = {
  manifest: Flag.String("manifest").pipe(Flag.withDescription(withDefaultSaid("Dataset manifest (JSON: per task its loader format, test file, training pool); default: the bundled sample data", SAMPLE_MANIFEST)), Flag.withDefault(SAMPLE_MANIFEST)),
  systems: Flag.String("systems").pipe(Flag.withDescription(withDefaultSaid("Comma-separated systems to score (no-GPU baselines: char-2gram … char-5gram)", "char-3gram")), Flag.withDefault("char-3gram")),
  shots: Flag.String("shots").pipe(Flag.withDescription(withDefaultSaid("Comma-separated shot counts (any k)", "0,3,5")), Flag.withDefault("0,3,5")),
  tasks: Flag.String("tasks").pipe(Flag.withDescription(withDefaultSaid("Comma-separated tasks among mcqa, extqa, absqa", "mcqa,extqa,absqa")), Flag.withDefault("mcqa,extqa,absqa")),
  model: Flag.String("model").pipe(Flag.withDescription("A Qwen3 checkpoint folder (config.json, *.safetensors, tokenizer.json) to score as one more system (options on fleuve's WGSL engine or the tfjs runtime: see --engine)"), Flag.optional),
  modelName: Flag.String("model-name").pipe(Flag.withDescription("System name for --model (default: the folder name)"), Flag.optional),
  backend: Flag.Literals("backend", ["auto", "webgpu", "tensorflow", "wasm", "cpu"]).pipe(Flag.withDescription(withDefaultSaid("tfjs backend for --model", "auto")), Flag.withDefault("auto")),
  engine: engineFlag,
  localJudge: Flag.Boolean("local-judge").pipe(Flag.withDescription(withDefaultSaid("Judge AbsQA with the --model itself (local-model judge)", false)), Flag.withDefault(false)),
  judgeUrl: Flag.String("judge-url").pipe(Flag.withDescription("OpenAI-compatible server for the AbsQA judge (POST /v1/chat/completions); default: the offline reference judge"), Flag.optional),
  judgeModel: Flag.String("judge-model").pipe(Flag.withDescription(withDefaultSaid("Model name sent to --judge-url", "judge")), Flag.withDefault("judge")),
  reference: Flag.String("reference").pipe(Flag.withDescription("Refresh the analyses (fleuve analyze) against this reference system after scoring"), Flag.optional),
  limit: Flag.Int("limit").pipe(
    Flag.withDescription("Score only the first N test items of each task (a quick look; the others are neither scored nor retired)"),
    Flag.optional
  ),
  force: Flag.Boolean("force").pipe(Flag.withDescription(withDefaultSaid("Re-score every request (predictions still come from the cache when their key matches)", false)), Flag.withDefault(false)),
  watch: Flag.Boolean("watch").pipe(Flag.withDescription(withDefaultSaid("Keep running: re-evaluate whenever a dataset file changes", false)), Flag.withDefault(false)),
  interval: Flag.Int("interval").pipe(Flag.withDescription(withDefaultSaid("Seconds between checks in --watch mode", 5)), Flag.withDefault(5)),
  warehouse: warehouseFlag
}
export type ReevalArgs = ArgsOf<typeof reevalFlags>
