import * as Config from "effect/Config"
import { Flag } from "effect/cli"
import { SAMPLE_MANIFEST } from "../../pipelines/names.ts"
import { type ArgsOf } from "../lazy.ts"
import { modelSystemFlags } from "./model-selection.ts"
import { warehouseFlag } from "./warehouse.ts"
import { maxRecordBytesFlag } from "./max-record-bytes.ts"
import { withDefaultSaid } from "./defaults.ts"
import { kafkaFlags } from "./kafka.ts"
import { runtimeFlag } from "./run.ts"
import { endpointFlags } from "./endpoint.ts"

export const reevalFlags = {
  manifest: Flag.String("manifest").pipe(Flag.withDescription(withDefaultSaid("Dataset manifest (JSON: per task its loader format, test file, training pool); default: the bundled sample data", SAMPLE_MANIFEST)), Flag.withDefault(SAMPLE_MANIFEST)),
  systems: Flag.String("systems").pipe(Flag.withDescription(withDefaultSaid("Comma-separated systems to score (no-GPU baselines: char-2gram … char-5gram)", "char-3gram")), Flag.withDefault("char-3gram")),
  shots: Flag.String("shots").pipe(Flag.withDescription(withDefaultSaid("Comma-separated shot counts (any k)", "0,3,5")), Flag.withDefault("0,3,5")),
  tasks: Flag.String("tasks").pipe(Flag.withDescription(withDefaultSaid("Comma-separated tasks among mcqa, extqa, absqa", "mcqa,extqa,absqa")), Flag.withDefault("mcqa,extqa,absqa")),
  ...modelSystemFlags,
  ...endpointFlags,
  endpointName: Flag.String("endpoint-name").pipe(Flag.withDescription("System name for --endpoint (default: --endpoint-model)"), Flag.optional),
  localJudge: Flag.Boolean("local-judge").pipe(Flag.withDescription(withDefaultSaid("Judge AbsQA with the --model itself (local-model judge)", false)), Flag.withDefault(false)),
  judgeUrl: Flag.String("judge-url").pipe(Flag.withDescription("OpenAI-compatible server for the AbsQA judge (POST /v1/chat/completions); default: the offline reference judge. Credentials in it (http://user:pass@host) are sent as Basic authentication and never printed or stored"), Flag.optional),
  judgeApiKey: Flag.Redacted("judge-api-key").pipe(
    Flag.withDescription("API key for --judge-url, sent as `Authorization: Bearer` (prefer $FLEUVE_JUDGE_API_KEY: flags show in process lists); never printed or stored"),
    Flag.withFallbackConfig(Config.Redacted("FLEUVE_JUDGE_API_KEY")),
    Flag.optional
  ),
  judgeModel: Flag.String("judge-model").pipe(Flag.withDescription(withDefaultSaid("Model name sent to --judge-url", "judge")), Flag.withDefault("judge")),
  reference: Flag.String("reference").pipe(Flag.withDescription("Refresh the analyses (fleuve analyze) against this reference system after scoring"), Flag.optional),
  limit: Flag.Int("limit").pipe(
    Flag.withDescription("Score only the first N test items of each task (a quick look; the others are neither scored nor retired)"),
    Flag.optional
  ),
  force: Flag.Boolean("force").pipe(Flag.withDescription(withDefaultSaid("Re-score every request (predictions still come from the cache when their key matches)", false)), Flag.withDefault(false)),
  watch: Flag.Boolean("watch").pipe(Flag.withDescription(withDefaultSaid("Keep running: re-evaluate whenever a dataset file changes", false)), Flag.withDefault(false)),
  interval: Flag.Int("interval").pipe(Flag.withDescription(withDefaultSaid("Seconds between checks in --watch mode", 5)), Flag.withDefault(5)),
  warehouse: warehouseFlag,
  maxRecordBytes: maxRecordBytesFlag,
  // On Kafka each system's grid runs as consumer groups (its scorer stage scores through --endpoint
  // where one is given): docs/kafka.md, "The evaluation grid on Kafka".
  runtime: runtimeFlag,
  scorerWorkers: Flag.String("scorer-workers").pipe(
    Flag.withDescription(
      "With --runtime kafka: comma-separated systems whose scorer stage this process leaves to `fleuve worker predict --pipeline evaluate-<system>` processes " +
        "(started elsewhere, e.g. next to the inference server): reeval produces their requests, waits for the workers, and lands their predictions and scores"
    ),
    Flag.optional
  ),
  ...kafkaFlags
}
export type ReevalArgs = ArgsOf<typeof reevalFlags>
