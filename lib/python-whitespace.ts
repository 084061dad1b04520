/**
 * Python's notion of whitespace (`str.isspace`, hence `str.rstrip()` with no argument), which
 * lm-evaluation-harness uses to move a context's trailing whitespace to the continuation.
 *
 * Gotcha: it is not JavaScript's `\s`. Python counts U+001C–U+001F (the information separators)
 * and U+0085 (NEL) as whitespace and JavaScript does not; JavaScript counts U+FEFF (BOM) and Python
 * does not. The set below is every code point for which CPython 3.11 `chr(c).isspace()` is true.
 */
const PY_WHITESPACE = "\t\n\u000b\u000c\r\u001c\u001d\u001e\u001f \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"

const isPyWhitespace = (ch: string): boolean => PY_WHITESPACE.includes(ch)

/** `s.rstrip()` as Python computes it (all of Python's whitespace code points are in the BMP). */
export const pythonRstrip = (s: string): string => {
  let end = s.length
  while (end > 0 && isPyWhitespace(s[end - 1]!)) end--
  return s.slice(0, end)
}

/**
 * lm-evaluation-harness's pair split: the context's trailing whitespace (Python's definition)
 * moves to the front of the continuation, so `enc(context)` never ends in a whitespace token that
 * the continuation's first token would have absorbed.
 */
export const moveTrailingWhitespace = (context: string, continuation: string): { readonly context: string; readonly continuation: string } => {
  const ctx = pythonRstrip(context)
  return ctx.length === context.length ? { context, continuation } : { context: ctx, continuation: context.slice(ctx.length) + continuation }
}
