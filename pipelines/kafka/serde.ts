import { redact } from "../../lib/redact.ts"
import type { SchemaRegistryClient } from "@confluentinc/schemaregistry"
import { Effect, Redacted, Schema } from "effect"
import { jsonSchemaOf, type RecordName, Records } from "../../schemas/registry.ts"
import { type Decoded, MAGIC, makeRecordDecoder, writeFrameHeader } from "./record-decoder.ts"
import { backwardProblems } from "./compatibility.ts"
import { compileJsonWriter, type JsonWriter, NO_ROOM, UNKNOWN } from "./compiled-encoder.ts"
import type { KafkaSettings } from "./settings.ts"
import { type InMessage, isInPlace, type OutMessage, type OutValue } from "./transport.ts"

export type { Decoded } from "./record-decoder.ts"

/**
 * Confluent wire format over a schema registry: magic byte 0, the writer schema's id (4 bytes,
 * big-endian), then the record as JSON. Schemas are derived from our Effect Schemas and registered
 * under `Records[...].subject` with BACKWARD compatibility. Decoding checks the frame, the schema
 * id and the JSON, then validates with the Effect Schema: whatever fails is a poison record with a
 * reason, never an exception.
 */

export class SchemaIncompatible extends Schema.TaggedError<SchemaIncompatible>()("SchemaIncompatible", {
  subject: Schema.String,
  message: Schema.String
}) {}

export class RegistryUnavailable extends Schema.TaggedError<RegistryUnavailable>()("RegistryUnavailable", {
  url: Schema.String,
  message: Schema.String
}) {}

/**
 * The registered form of a record's JSON Schema: draft-07 (what Apicurio and Confluent check for
 * compatibility) and closed (`additionalProperties: false`), so adding an optional field is a
 * BACKWARD-compatible change and removing one is not. Our consumers validate with the Effect
 * Schema, which ignores unknown fields: old consumers keep reading records with new fields.
 */
export const registeredSchemaOf = (schema: Record<string, unknown>): Record<string, unknown> => {
  const { $defs, ...rest } = schema as { $defs?: unknown }
  const text = JSON.stringify({ ...rest, $schema: "http://json-schema.org/draft-07/schema#", additionalProperties: false, ...($defs ? { definitions: $defs } : {}) })
  return JSON.parse(text.replaceAll("#/$defs/", "#/definitions/"))
}

/** A record type as the serde knows it: its subject, its Effect Schema and its JSON Schema. */
export interface RecordType<A = unknown> {
  readonly name: string
  readonly subject: string
  readonly schema: Schema.Codec<A, unknown>
  readonly jsonSchema: Record<string, unknown>
}

export const recordType = (name: RecordName): RecordType => ({
  name,
  subject: Records[name].subject,
  schema: Records[name].schema as unknown as Schema.Codec<unknown, unknown>,
  jsonSchema: registeredSchemaOf(jsonSchemaOf(name))
})

/** A record in the wire format, in a Buffer of its own: magic byte, schema id, then the JSON as UTF-8. */
export const frameJson = (schemaId: number, json: string): Buffer => {
  const out = Buffer.allocUnsafe(5 + Buffer.byteLength(json, "utf8"))
  writeFrameHeader(out, 0, schemaId)
  out.write(json, 5, "utf8")
  return out
}

/**
 * A record already written in the wire format, `length` bytes at `start` of a shared chunk
 * (FramedArena's): what a stage holds for each output until it is sent.
 */
export class FramedBytes implements OutValue {
  constructor(readonly source: Buffer, readonly start: number, readonly length: number) {}

  writeTo(buf: Buffer, at: number): void {
    // A plain Uint8Array view is made in about half the time of a Buffer's (subarray's), and
    // this runs once for every record a stage sends.
    const source = this.source
    buf.set(new Uint8Array(source.buffer, source.byteOffset + this.start, this.length), at)
  }

  toBuffer(): Buffer {
    return Buffer.from(this.source.subarray(this.start, this.start + this.length))
  }
}

/**
 * An output record whose value was written in the wire format into a shared chunk: the message
 * and its value in one object (`value` is the record itself), not an OutMessage holding a
 * FramedBytes — one object less for every record a stage encodes.
 */
export class FramedRecord extends FramedBytes implements OutMessage {
  readonly value: this = this
  constructor(readonly topic: string, readonly key: string, source: Buffer, start: number, length: number) {
    super(source, start, length)
  }
}

/** Bytes of a chunk of encoded outputs (a fresh one when the next record may not fit). */
const ARENA_CHUNK = 256 * 1024

/**
 * Writes records in the wire format one after the other into chunks of memory outside the JS heap.
 * A stage's outputs live until their send is acknowledged (often across young-generation
 * collections): held as JSON strings they were copied by every scavenge and then promoted (about 21
 * of the 38-43 MB promoted per 100,000 records in stage-path.ts); as bytes in a chunk they are never
 * copied by the GC, the string dies at once, and the encoder copies the bytes instead of UTF-8
 * encoding a string. A chunk is freed once no output in it is referenced.
 */
export class FramedArena {
  private chunk = Buffer.allocUnsafe(0)
  private at = 0

  write(schemaId: number, json: string): FramedBytes {
    const start = this.put(schemaId, json)
    return new FramedBytes(this.chunk, start, this.at - start)
  }

  /** write's record as a message of `topic` under `key`. */
  writeMessage(topic: string, key: string, schemaId: number, json: string): FramedRecord {
    const start = this.put(schemaId, json)
    return new FramedRecord(topic, key, this.chunk, start, this.at - start)
  }

  /** Writes the record into the chunk (a fresh one where it may not fit) and returns where it starts. */
  private put(schemaId: number, json: string): number {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    const most = 5 + 3 * json.length
    if (this.at + most > this.chunk.length) {
      this.chunk = Buffer.allocUnsafe(Math.max(ARENA_CHUNK, most))
      this.at = 0
    }
    const start = this.at
    const chunk = this.chunk
    writeFrameHeader(chunk, start, schemaId)
    const length = 5 + chunk.write(json, start + 5, "utf8")
    this.at = start + length
    return start
  }

  /**
   * A record written by a compiled JSON writer (compiled-encoder.ts) straight into the chunk, or
   * undefined where the writer does not know the value (the caller then writes JSON.stringify's).
   * A record that does not fit the chunk's rest is tried once more in a fresh chunk.
   */
  writeWith(schemaId: number, writer: JsonWriter, value: unknown): FramedBytes | undefined {
    const start = this.putWith(schemaId, writer, value)
    return start < 0 ? undefined : new FramedBytes(this.chunk, start, this.at - start)
  }

  /** writeWith's record as a message of `topic` under `key`. */
  writeMessageWith(topic: string, key: string, schemaId: number, writer: JsonWriter, value: unknown): FramedRecord | undefined {
    const start = this.putWith(schemaId, writer, value)
    return start < 0 ? undefined : new FramedRecord(topic, key, this.chunk, start, this.at - start)
  }

  /** Where writeWith's record starts in the chunk, or -1 (not written). */
  private putWith(schemaId: number, writer: JsonWriter, value: unknown): number {
    for (let fresh = false; ; fresh = true) {
      const start = this.at
      const chunk = this.chunk
      if (start + 5 < chunk.length) {
        const end = writer(value, chunk, start + 5, chunk.length)
        if (end === UNKNOWN) return -1
        if (end !== NO_ROOM) {
          writeFrameHeader(chunk, start, schemaId)
          this.at = end
          return start
        }
      }
      if (fresh) return -1
      this.chunk = Buffer.allocUnsafe(ARENA_CHUNK)
      this.at = 0
    }
  }
}

export interface Serde {
  /** Registers (or finds) the writer schema of each record type; refuses incompatible changes. */
  readonly prepare: (types: ReadonlyArray<RecordType>) => Effect.Effect<void, SchemaIncompatible | RegistryUnavailable>
  readonly encode: (type: RecordType, value: unknown) => Buffer
  /** encode's bytes, written by the client straight into its produce request (no Buffer per record). */
  readonly encodeValue: (type: RecordType, value: unknown) => OutValue
  /** `{ topic, key, value: encodeValue(type, value) }`, as one object (FramedRecord). */
  readonly encodeMessage: (type: RecordType, topic: string, key: string, value: unknown) => OutMessage
  readonly decode: <A>(type: RecordType<A>, bytes: Buffer | null) => Promise<Decoded<A>>
  /**
   * A fetched batch's records, decoded as `decode` would one by one: the registry is asked once
   * per schema id not seen before, then every record is decoded without a promise of its own.
   */
  readonly decodeBatch: <A>(type: RecordType<A>, values: ReadonlyArray<Buffer | null>) => Promise<ReadonlyArray<Decoded<A>>>
  /**
   * decodeBatch over fetched messages (what a consumer calls): each value is read where its
   * client holds it (transport.ts' InPlaceMessage) without a Buffer of its own per record.
   */
  readonly decodeMessages: <A>(type: RecordType<A>, messages: ReadonlyArray<InMessage>) => Promise<ReadonlyArray<Decoded<A>>>
  /**
   * Every schema id known, with the subject it belongs to (`null`: no such id), once the ids of
   * `messages` were asked about: what a thread that decodes them elsewhere needs (record-path-worker.ts).
   */
  readonly knownSchemaIds: (type: RecordType, messages: ReadonlyArray<InMessage>) => Promise<ReadonlyMap<number, string | null>>
  /** Frames any JSON value with a schema id: for tests that forge records. */
  readonly frame: (schemaId: number, json: string) => Buffer
  readonly idOf: (type: RecordType) => number
}

// The registry library pulls in cloud KMS SDKs that take seconds to load; only Kafka runs need it,
// so it is imported on first use instead of on every `fleuve` start.
const registryLibrary = () => import("@confluentinc/schemaregistry")

export const makeSerde = (settings: KafkaSettings): Serde => {
  let clientPromise: Promise<SchemaRegistryClient> | undefined
  const registryClient = () =>
    (clientPromise ??= registryLibrary().then(({ SchemaRegistryClient }) =>
      new SchemaRegistryClient({
        baseURLs: [settings.registryUrl],
        ...(settings.registryAuth
          ? { basicAuthCredentials: { credentialsSource: "USER_INFO", userInfo: `${settings.registryAuth.username}:${Redacted.value(settings.registryAuth.password)}` } }
          : {}),
        maxRetries: 3
      })
    ))
  const arena = new FramedArena()
  const writerIds = new Map<string, number>()
  // schema id → subjects it may decode for (ids are global in the registry); `null`: unknown id.
  const knownIds = new Map<number, string | null>()
  // Reads a record once its schema id is in knownIds (or its frame is bad): no await.
  const decodeKnown = makeRecordDecoder(settings.maxRecordBytes, knownIds)
  // Per subject: the compiled JSON writer of its records (compiled-encoder.ts), or null where the
  // Schema has parts it does not compile (JSON.stringify writes those).
  const jsonWriters = new Map<string, JsonWriter | null>()
  const jsonWriterOf = (type: RecordType): JsonWriter | null => {
    let writer = jsonWriters.get(type.subject)
    if (writer === undefined) jsonWriters.set(type.subject, (writer = compileJsonWriter(type.schema as Schema.Top) ?? null))
    return writer
  }

  const registryError = (e: unknown) =>
    new RegistryUnavailable({ url: settings.registryUrl, message: redact(e instanceof Error ? e.message : String(e)) })

  const prepareOne = (type: RecordType) =>
    Effect.gen(function*() {
      const client = yield* Effect.promise(registryClient)
      const { Compatibility } = yield* Effect.promise(registryLibrary)
      const info = { schemaType: "JSON", schema: JSON.stringify(type.jsonSchema) }
      // Already registered (this exact schema, at any version): a consumer built with an older
      // version keeps working after newer versions were registered.
      const existing = yield* Effect.tryPromise({ try: () => client.getId(type.subject, info, false), catch: (e) => e }).pipe(
        Effect.map((id): number | undefined => id),
        Effect.catch(() => Effect.succeed(undefined))
      )
      if (existing !== undefined) {
        writerIds.set(type.subject, existing)
        knownIds.set(existing, type.subject)
        return
      }
      const latest = yield* Effect.tryPromise({ try: () => client.getLatestSchemaMetadata(type.subject), catch: (e) => e }).pipe(
        Effect.map((m): { schema: string; version?: number } | undefined => m),
        Effect.catch((e: unknown) => ((e as { status?: number }).status === 404 ? Effect.succeed(undefined) : Effect.fail(registryError(e))))
      )
      if (latest) {
        const problems = backwardProblems(JSON.parse(latest.schema), type.jsonSchema)
        if (problems.length > 0) {
          return yield* new SchemaIncompatible({
            subject: type.subject,
            message: `schema ${type.subject}: incompatible change refused (BACKWARD against registered version ${latest.version ?? "latest"}): ${problems.join("; ")}`
          })
        }
      }
      const id = yield* Effect.tryPromise({ try: () => client.register(type.subject, info, false), catch: (e) => e }).pipe(
        Effect.catch((e: unknown): Effect.Effect<never, SchemaIncompatible | RegistryUnavailable> =>
          (e as { status?: number }).status === 409
            ? Effect.fail(new SchemaIncompatible({ subject: type.subject, message: `schema ${type.subject}: the registry refused the change: ${(e as Error).message}` }))
            : Effect.fail(registryError(e))
        )
      )
      if (!latest) {
        // Two processes starting at once (a run and its workers) may both find the subject new:
        // the second's rule then already exists (Apicurio refuses to create it twice), which is fine.
        yield* Effect.tryPromise({ try: () => client.updateCompatibility(type.subject, Compatibility.BACKWARD), catch: (e) => e }).pipe(
          Effect.catch((e: unknown) => (/rule named 'COMPATIBILITY' already exists/i.test(String((e as Error)?.message ?? e)) ? Effect.void : Effect.fail(registryError(e))))
        )
      }
      writerIds.set(type.subject, id)
      knownIds.set(id, type.subject)
    })

  const subjectOfId = async (id: number, subject: string): Promise<string | null> => {
    if (knownIds.has(id)) return knownIds.get(id)!
    const client = await registryClient()
    try {
      // Ids are global in a registry: the schema's title (our subject) says which record it is.
      const info = await client.getBySubjectAndId(subject, id)
      const title = (JSON.parse(info.schema) as { title?: unknown }).title
      const owner = typeof title === "string" ? title : "another subject"
      knownIds.set(id, owner)
      return owner
    } catch (e) {
      if ((e as { status?: number }).status === 404) {
        knownIds.set(id, null)
        return null
      }
      throw e
    }
  }

  return {
    prepare: (types) => Effect.forEach(types, prepareOne, { discard: true }),
    idOf: (type) => {
      const id = writerIds.get(type.subject)
      if (id === undefined) throw new Error(`schema ${type.subject} was not prepared`)
      return id
    },
    frame: frameJson,
    encode(type, value) {
      return this.frame(this.idOf(type), JSON.stringify(value))
    },
    encodeValue(type, value) {
      const id = this.idOf(type)
      const writer = jsonWriterOf(type)
      return (writer === null ? undefined : arena.writeWith(id, writer, value)) ?? arena.write(id, JSON.stringify(value))
    },
    encodeMessage(type, topic, key, value) {
      const id = this.idOf(type)
      const writer = jsonWriterOf(type)
      return (writer === null ? undefined : arena.writeMessageWith(topic, key, id, writer, value)) ?? arena.writeMessage(topic, key, id, JSON.stringify(value))
    },
    decode: async <A>(type: RecordType<A>, bytes: Buffer | null): Promise<Decoded<A>> => {
      const id = schemaIdOf(bytes)
      if (id !== undefined && !knownIds.has(id)) await subjectOfId(id, type.subject)
      return bytes === null ? decodeKnown(type, null, 0, 0) : decodeKnown(type, bytes, 0, bytes.length)
    },
    decodeBatch: async <A>(type: RecordType<A>, values: ReadonlyArray<Buffer | null>): Promise<ReadonlyArray<Decoded<A>>> => {
      // A batch's records nearly always share one schema id: looked up once, not once a record.
      let seen = -1
      for (const bytes of values) {
        const id = schemaIdOf(bytes)
        if (id === undefined || id === seen) continue
        if (!knownIds.has(id)) await subjectOfId(id, type.subject)
        seen = id
      }
      const out = new Array<Decoded<A>>(values.length)
      for (let i = 0; i < values.length; i++) {
        const bytes = values[i] ?? null
        out[i] = bytes === null ? decodeKnown(type, null, 0, 0) : decodeKnown(type, bytes, 0, bytes.length)
      }
      return out
    },
    knownSchemaIds: async (type, messages) => {
      await learnIds(type, messages)
      return knownIds
    },
    decodeMessages: async <A>(type: RecordType<A>, messages: ReadonlyArray<InMessage>): Promise<ReadonlyArray<Decoded<A>>> => {
      await learnIds(type, messages)
      const out = new Array<Decoded<A>>(messages.length)
      for (let i = 0; i < messages.length; i++) {
        const m = messages[i]!
        if (isInPlace(m)) out[i] = m.valueEnd < 0 ? decodeKnown(type, null, 0, 0) : decodeKnown(type, m.source, m.valueStart, m.valueEnd)
        else {
          const bytes = m.value
          out[i] = bytes === null ? decodeKnown(type, null, 0, 0) : decodeKnown(type, bytes, 0, bytes.length)
        }
      }
      return out
    }
  }

  /** Asks the registry about every schema id of `messages` not seen before. */
  async function learnIds(type: RecordType, messages: ReadonlyArray<InMessage>): Promise<void> {
    let seen = -1
    for (const m of messages) {
      const id = isInPlace(m) ? (m.valueEnd < 0 ? undefined : schemaIdAt(m.source, m.valueStart, m.valueEnd)) : schemaIdOf(m.value)
      if (id === undefined || id === seen) continue
      if (!knownIds.has(id)) await subjectOfId(id, type.subject)
      seen = id
    }
  }

  /** The schema id of a record that passes the frame checks (else undefined: decodeKnown says why). */
  function schemaIdOf(bytes: Buffer | null): number | undefined {
    return bytes ? schemaIdAt(bytes, 0, bytes.length) : undefined
  }

  /** schemaIdOf the record in buf[start, end). */
  function schemaIdAt(buf: Buffer, start: number, end: number): number | undefined {
    const length = end - start
    if (length < 5 || length > settings.maxRecordBytes || buf[start] !== MAGIC) return undefined
    return buf.readUInt32BE(start + 1)
  }
}

