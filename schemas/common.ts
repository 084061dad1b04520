import { Schema } from "effect"

/** Where a record came from, so every error and dead letter can point back at it. */
export const FilePosition = Schema.TaggedStruct("File", {
  file: Schema.String,
  /** 1-based line (or row for Parquet) of the record's first line. */
  line: Schema.Int
})
export const TopicPosition = Schema.TaggedStruct("Topic", {
  topic: Schema.String,
  partition: Schema.Int,
  offset: Schema.String
})
export const GeneratedPosition = Schema.TaggedStruct("Generated", {
  generator: Schema.String,
  seq: Schema.Int
})
export const Position = Schema.Union([FilePosition, TopicPosition, GeneratedPosition])
export type Position = typeof Position.Type

export const describePosition = (p: Position): string => {
  switch (p._tag) {
    case "File":
      return `${p.file}:${p.line}`
    case "Topic":
      return `${p.topic}[${p.partition}]@${p.offset}`
    case "Generated":
      return `${p.generator}#${p.seq}`
  }
}

export const TaskName = Schema.Literals(["mcqa", "extqa", "absqa"])
export type TaskName = typeof TaskName.Type

export const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
