/**
 * The corpus thresholds file (`fleuve corpus --config thresholds.json`): its Schema, decoded
 * strictly (see schemas/config-file.ts). Every key is optional; a key the schema does not know, a
 * wrong type or a value out of range is an error naming the file and key. Documented in
 * docs/corpus.md ("Thresholds file"); keep the two in step.
 */
import { Effect, Schema } from "effect"
import { LANGUAGES } from "../operators/corpus/language-id.ts"
import { OperatorFailure } from "../operators/operator.ts"
import { readConfigFile } from "../schemas/config-file.ts"

/** Packed sequences are built in memory, one array of this many ids per sequence. */
export const MAX_SEQUENCE_LENGTH = 1 << 20

const Ratio = Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 }))
const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const Positive = Schema.Finite.check(Schema.isGreaterThan(0))

export const SequenceLength = Schema.Int.check(Schema.isBetween({ minimum: 2, maximum: MAX_SEQUENCE_LENGTH }))

/** Any subset of the quality filter's thresholds (operators/corpus/quality.ts). */
export const QualityConfig = Schema.Struct({
  minWords: Schema.optional(Count),
  maxWords: Schema.optional(Count),
  minMeanWordLength: Schema.optional(Positive),
  maxMeanWordLength: Schema.optional(Positive),
  maxSymbolWordRatio: Schema.optional(Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))),
  maxBulletLinesRatio: Schema.optional(Ratio),
  maxEllipsisLinesRatio: Schema.optional(Ratio),
  minAlphaWordsRatio: Schema.optional(Ratio),
  minStopWords: Schema.optional(Count),
  maxDuplicateLinesRatio: Schema.optional(Ratio),
  maxDuplicateLineCharsRatio: Schema.optional(Ratio),
  maxTopNgramCharsRatio: Schema.optional(Schema.Struct({ "2": Ratio, "3": Ratio, "4": Ratio })),
  maxDuplicateNgramCharsRatio: Schema.optional(Schema.Struct({ "5": Ratio, "6": Ratio, "7": Ratio, "8": Ratio, "9": Ratio, "10": Ratio })),
  c4BadContent: Schema.optional(Schema.Boolean)
})

export const CorpusConfig = Schema.Struct({
  quality: Schema.optional(QualityConfig),
  /** Languages to keep (default ["fr"]); a list, never a bare string. */
  languages: Schema.optional(Schema.NonEmptyArray(Schema.Literals(LANGUAGES))),
  minLanguageScore: Schema.optional(Ratio),
  sequenceLength: Schema.optional(SequenceLength),
  sequencesPerShard: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1 << 20 })))
  // textField and idField are flags only (--text-field, --id-field): their defaults would
  // silently override a value given here.
})
export type CorpusConfig = typeof CorpusConfig.Type

export const readCorpusConfig = (path: string) =>
  readConfigFile(CorpusConfig, path).pipe(Effect.mapError((e) => new OperatorFailure({ operator: "corpus-config", message: e.message })))

/** The packed sequence length, wherever it came from (flag, config, env), checked before anything is allocated. */
export const checkSequenceLength = (n: number) =>
  Number.isInteger(n) && n >= 2 && n <= MAX_SEQUENCE_LENGTH
    ? Effect.succeed(n)
    : Effect.fail(new OperatorFailure({ operator: "pack", message: `sequence length must be an integer from 2 to ${MAX_SEQUENCE_LENGTH}, got ${n}` }))
