/**
 * What a reader yields: a row of named fields, or a line it could not read (bad UTF-8,
 * malformed JSON, wrong field count). Readers never throw on bad input; the next operator turns
 * unreadable rows into dead letters with the reader's reason.
 */
export type RawRecord =
  | { readonly _tag: "Fields"; readonly fields: Readonly<Record<string, unknown>> }
  | { readonly _tag: "Unreadable"; readonly reason: string; readonly raw: string }

export const fields = (f: Readonly<Record<string, unknown>>): RawRecord => ({ _tag: "Fields", fields: f })
export const unreadable = (reason: string, raw: string): RawRecord => ({ _tag: "Unreadable", reason, raw: raw.slice(0, 2000) })
