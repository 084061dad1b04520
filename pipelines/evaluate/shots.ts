import { parseDecimalInteger } from "../../lib/decimal.ts"

/**
 * `--shots 0,3,5`: non-negative decimal integers, or undefined when one is not. Number() read
 * "0x10" as 16 shots and "1e1" as 10.
 */
export const parseShotList = (text: string): Array<number> | undefined => {
  const shots = text.split(",").map((s) => s.trim()).filter((s) => s !== "").map(parseDecimalInteger)
  return shots.length > 0 && shots.every((k) => k !== undefined && k >= 0) ? (shots as Array<number>) : undefined
}
