import { Schema } from "effect"

/** The warehouse cannot be reported on as asked: analysis tables missing, unknown reference, bad config. */
export class ReportError extends Schema.TaggedError<ReportError>()("ReportError", {
  message: Schema.String
}) {}
