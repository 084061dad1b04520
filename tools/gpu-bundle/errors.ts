import { Schema } from "effect"

/** Building the GPU deployment archive failed; the message names the missing file or failing tool. */
export class GpuBundleError extends Schema.TaggedError<GpuBundleError>()("GpuBundleError", {
  message: Schema.String
}) {}
