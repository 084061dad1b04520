/**
 * Strict decimal integers for counts typed by people (shots, sizes): `Number()` reads `0x10` as
 * 16, `1e1` as 10, `0b11` as 3 and `""` as 0; these are refused here.
 */
export const parseDecimalInteger = (text: string): number | undefined => {
  const t = text.trim()
  if (!/^[+-]?[0-9]+$/.test(t)) return undefined
  const n = Number(t)
  return Number.isSafeInteger(n) ? n : undefined
}

/** The first control character of a text other than tab, line feed and carriage return (which quoted CSV fields may hold), as `U+0000`, or undefined. */
export const controlCharacterIn = (text: string): string | undefined => {
  const m = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.exec(text)
  return m ? `U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}` : undefined
}
