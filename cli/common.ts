import { Effect } from "effect"
import { redact } from "../lib/redact.ts"
import { messageOf } from "../lib/error-message.ts"

/** Prints a typed failure as one clear message (secrets redacted) and sets a failing exit code; no stack traces. */
export const reportFailure = (e: { readonly message: string }) =>
  Effect.sync(() => {
    process.stderr.write(`fleuve: ${redact(e.message)}\n`)
    process.exitCode = 1
  })

/** The message of whatever a command failed with: a typed error's, an Error's, or the value. */

/** reportFailure for a command whose failures are of several kinds (typed errors, Errors, defects' values). */
export const reportAnyFailure = (e: unknown) => reportFailure({ message: messageOf(e) })
