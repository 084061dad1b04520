/**
 * Reads a 1-5 verdict out of a judge's free text. Judges wrap the number in reasoning, markdown,
 * JSON or <think> blocks, restate the scale ("de 1 à 5") and sometimes change their mind; the
 * rules, in order (the first that finds a number wins):
 *   1. drop <think>…</think> blocks (Qwen3 and other reasoning models);
 *   2. a JSON object with a key score / note / rating / verdict;
 *   3. the LAST labelled verdict: "Note: 4", "**Score** : 4/5", "note finale = 4", "Verdict – 4";
 *   4. the LAST "N/5" or "N sur 5";
 *   5. an output that is nothing but one digit (markdown and punctuation aside);
 *   6. the last French number word before "sur cinq" ("quatre sur cinq").
 * A number outside 1-5, a range ("3-4") or nothing found is a failure with its reason: a verdict
 * is never guessed.
 */
export type Verdict = { readonly _tag: "Score"; readonly score: number; readonly rule: string } | { readonly _tag: "Unparseable"; readonly reason: string }

const WORDS: Record<string, number> = { un: 1, une: 1, deux: 2, trois: 3, quatre: 4, cinq: 5 }

const inRange = (n: number, rule: string): Verdict =>
  Number.isInteger(n) && n >= 1 && n <= 5 ? { _tag: "Score", score: n, rule } : { _tag: "Unparseable", reason: `score ${n} is outside 1-5 (${rule})` }

const lastMatch = (text: string, re: RegExp): RegExpExecArray | undefined => {
  let last: RegExpExecArray | undefined
  for (const m of text.matchAll(re)) last = m as RegExpExecArray
  return last
}

export const parseVerdict = (raw: string): Verdict => {
  const text = raw.replace(/<think>[\s\S]*?(<\/think>|$)/gi, " ").replace(/\r/g, "")
  if (text.trim() === "") return { _tag: "Unparseable", reason: "empty output" }

  for (const m of text.matchAll(/\{[^{}]*\}/g)) {
    try {
      const o = JSON.parse(m[0]) as Record<string, unknown>
      for (const k of ["score", "note", "rating", "verdict", "grade"]) {
        const v = o[k] ?? o[k.toUpperCase()] ?? o[k[0]!.toUpperCase() + k.slice(1)]
        if (v !== undefined && v !== null && String(v).trim() !== "") return inRange(Number(String(v).replace(",", ".")), "json")
      }
    } catch { /* not JSON: try the next rule */ }
  }

  const label = /(?:note|score|verdict|rating|évaluation|evaluation)(?:\s+(?:finale|final|globale))?\s*\**\s*(?:[:=–—-]|est\s+de|est|de)?\s*\**\s*(\d+(?:[.,]\d+)?)(\s*[-–à]\s*\d+)?(?:\s*\/\s*5|\s+sur\s+5)?/gi
  const labelled = lastMatch(text, label)
  if (labelled) {
    if (labelled[2] && !/^\s*\/|sur/.test(labelled[2])) return { _tag: "Unparseable", reason: `ambiguous range '${labelled[0].trim()}'` }
    return inRange(Number(labelled[1]!.replace(",", ".")), "label")
  }

  const outOf = lastMatch(text, /(?<![\d.,])(\d+(?:[.,]\d+)?)\s*(?:\/|sur)\s*5(?![\d])/gi)
  if (outOf) return inRange(Number(outOf[1]!.replace(",", ".")), "out-of-5")

  const bare = text.replace(/[*_`#>\s.!:"'«»()[\]]/g, "")
  if (/^\d+$/.test(bare)) return inRange(Number(bare), "bare")

  const word = lastMatch(text.toLowerCase(), /\b(un|une|deux|trois|quatre|cinq)\s+sur\s+cinq\b/g)
  if (word) return inRange(WORDS[word[1]!]!, "words")

  return { _tag: "Unparseable", reason: `no 1-5 verdict found in '${text.trim().slice(0, 80)}'` }
}
