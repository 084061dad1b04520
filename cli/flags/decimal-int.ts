import { Flag } from "effect/cli"

/**
 * An integer flag written in plain decimal: effect's Flag.Int takes `1e1` as 10 and `1.0` as 1,
 * and a count typed that way is more likely a slip than a wish (issue 20: `1e1` shots).
 */
export const decimalIntFlag = (name: string) =>
  Flag.String(name).pipe(
    Flag.mapTryCatch(
      (text) => {
        if (!/^\s*[+-]?[0-9]+\s*$/.test(text)) throw new Error(`--${name} must be a decimal integer, got '${text}'`)
        return Number(text)
      },
      (e) => (e instanceof Error ? e.message : String(e))
    ),
    Flag.withMetavar("integer")
  )
