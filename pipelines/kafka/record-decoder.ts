import { Schema } from "effect"
import { compileJsonReader, type JsonReader } from "./compiled-reader.ts"
import { compileValidator } from "./compiled-validator.ts"

/**
 * Reading one record in the Confluent wire format (magic byte 0, the writer schema's id, the JSON)
 * once its schema id is known: the frame checks, JSON.parse, then validation (the compiled fast
 * path, else the Effect Schema). Whatever fails is a poison record with a reason, never an
 * exception. Apart from serde.ts so that a stage's record-path worker threads
 * (record-path-worker.ts) decode exactly as the stage's own thread does, without the registry
 * client.
 */

export const MAGIC = 0

/** Writes a record's 5-byte frame header (the magic byte, then the schema id) at `at`; its JSON follows. */
export const writeFrameHeader = (buf: Buffer, at: number, schemaId: number): void => {
  buf[at] = MAGIC
  buf.writeUInt32BE(schemaId, at + 1)
}

export type Decoded<A> =
  | {
    readonly _tag: "Ok"
    readonly value: A
    readonly schemaId: number
    /** The value is the record's JSON as parsed, unchanged by the Schema (a stage may forward its bytes: forward.ts). */
    readonly verbatim: boolean
  }
  | { readonly _tag: "Poison"; readonly reason: string; readonly field?: string | undefined; readonly record: string }

/** What the decoder needs of a record type: the registry subject it belongs to and its Schema. */
export interface DecodedType<A = unknown> {
  readonly subject: string
  readonly schema: Schema.Codec<A, unknown>
}

const schemaErrorText = (cause: unknown): { reason: string; field?: string } => {
  const message = String(cause).replace(/\s+/g, " ").trim()
  const field = /at \["([^"]+)"\]/.exec(message)?.[1]
  return field ? { reason: `schema validation failed: ${message}`, field } : { reason: `schema validation failed: ${message}` }
}

/** A poison record's bytes as text for its dead letter (base64 where they are not UTF-8). */
export const textOf = (bytes: Buffer) => {
  const text = bytes.toString("utf8")
  return text.includes("\uFFFD") ? `base64:${bytes.toString("base64")}` : text
}

/**
 * decode of the record in buf[start, end) (`null`: no value). `knownIds` maps every schema id the
 * records may carry to the subject it belongs to (`null`: the registry has no such id): the caller
 * asked the registry first.
 */
export const makeRecordDecoder = (maxRecordBytes: number, knownIds: ReadonlyMap<number, string | null>) => {
  const decoders = new Map<string, (u: unknown) => ReturnType<ReturnType<typeof Schema.decodeUnknownExit>>>()
  // Per subject: the compiled fast accept path (compiled-validator.ts), or null where the Schema
  // has parts it does not compile.
  const validators = new Map<string, ((u: unknown) => boolean) | null>()
  // Per subject: the compiled reader (compiled-reader.ts), JSON.parse and the validator in one
  // pass over the bytes, or null where the Schema has parts it does not compile.
  const readers = new Map<string, JsonReader | null>()
  return <A>(type: DecodedType<A>, buf: Buffer | null, start: number, end: number): Decoded<A> => {
    const length = end - start
    if (!buf || length === 0) return { _tag: "Poison", reason: "empty record (no value)", record: "" }
    if (length > maxRecordBytes) {
      return { _tag: "Poison", reason: `oversize record: ${length} bytes, more than the ${maxRecordBytes}-byte limit`, record: textOf(buf.subarray(start, start + 1024)) + "…" }
    }
    if (length < 5 || buf[start] !== MAGIC) {
      return { _tag: "Poison", reason: `not in the Confluent wire format (magic byte ${buf[start]}, ${length} bytes)`, record: textOf(buf.subarray(start, end)) }
    }
    const id = buf.readUInt32BE(start + 1)
    const subject = knownIds.get(id)
    if (subject === null || subject === undefined) return { _tag: "Poison", reason: `unknown schema id ${id}: the registry has no such schema`, record: textOf(buf.subarray(start + 5, end)) }
    if (subject !== type.subject) return { _tag: "Poison", reason: `wrong schema id ${id}: it belongs to ${subject}, this topic carries ${type.subject}`, record: textOf(buf.subarray(start + 5, end)) }
    let read = readers.get(type.subject)
    if (read === undefined) readers.set(type.subject, (read = compileJsonReader(type.schema as Schema.Top) ?? null))
    if (read !== null) {
      // What it reads is what JSON.parse would make of the text and the validator accept.
      const value = read(buf, start + 5, end)
      if (value !== undefined) return { _tag: "Ok", value: value as A, schemaId: id, verbatim: true }
    }
    let json: unknown
    try {
      // The JSON after the 5-byte header, read in place (no view of the body per record).
      json = JSON.parse(buf.toString("utf8", start + 5, end))
    } catch (e) {
      return { _tag: "Poison", reason: `invalid JSON: ${e instanceof Error ? e.message : String(e)}`, record: textOf(buf.subarray(start + 5, end)) }
    }
    let valid = validators.get(type.subject)
    if (valid === undefined) validators.set(type.subject, (valid = compileValidator(type.schema as Schema.Top) ?? null))
    if (valid !== null && valid(json)) return { _tag: "Ok", value: json as A, schemaId: id, verbatim: true }
    let decode = decoders.get(type.subject)
    if (!decode) decoders.set(type.subject, (decode = Schema.decodeUnknownExit(type.schema as Schema.Codec<unknown, unknown>)))
    const result = decode(json)
    if (result._tag === "Success") return { _tag: "Ok", value: result.value as A, schemaId: id, verbatim: result.value === json }
    return { _tag: "Poison", ...schemaErrorText(result.cause), record: textOf(buf.subarray(start + 5, end)) }
  }
}
