/**
 * "Did you mean …?" for misspelled names (config keys, flags, fields): the candidate closest to a
 * name by Levenshtein distance, when it is close enough to be a plausible typo.
 */

/** Edits (insert, delete, substitute one character) turning `a` into `b`; two rows of the table. */
export const levenshtein = (a: string, b: string): number => {
  if (a === b) return 0
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    prev = row
  }
  return prev[b.length]!
}

/**
 * The nearest candidate, compared case-insensitively; undefined when none is within
 * `maxDistance` (default: a third of the name's length, at least 2), so unrelated names get no
 * misleading suggestion. Ties go to the first candidate.
 */
export const nearestName = (name: string, candidates: Iterable<string>, maxDistance = Math.max(2, Math.floor(name.length / 3))): string | undefined => {
  let best: string | undefined
  let bestDistance = Infinity
  for (const c of candidates) {
    const d = levenshtein(name.toLowerCase(), c.toLowerCase())
    if (d < bestDistance) {
      best = c
      bestDistance = d
    }
  }
  return bestDistance <= maxDistance ? best : undefined
}

/** " (did you mean 'x'?)" or "". */
export const didYouMean = (name: string, candidates: Iterable<string>): string => {
  const n = nearestName(name, candidates)
  return n === undefined ? "" : ` (did you mean '${n}'?)`
}
