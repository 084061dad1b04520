import { FramedBytes } from "./serde.ts"
import { type InMessage, isInPlace, type OutValue } from "./transport.ts"

/**
 * Records a stage passes on untouched go out as the bytes they were fetched as. Most stages are
 * filters and routers whose operator returns its input object: decoding it was needed (the
 * operator reads it), but encoding it again (JSON.stringify, UTF-8, the frame) only rebuilt bytes
 * the stage already held. The stage sends those bytes instead when
 *  - the operator says every record it emits is one of its inputs (`passesInput`: filters, and
 *    chains of them; a map's outputs are always encoded and its inputs never frozen, since
 *    spreading a frozen record costs V8's slow path: 0.1–0.5 µs a record, BENCHMARKS.md session 9),
 *  - it emitted the very object the stage decoded (identity, not equality),
 *  - the output topic carries the same record type as the input topic, and
 *  - the record was written with the schema id the stage writes that type with (a record written
 *    by another version of the schema is re-encoded, as before: its JSON may hold fields the
 *    stage's own, closed, writer schema does not allow).
 *
 * That is safe only if the filter does not change its input in place: the stage freezes every
 * record it decodes for it (deeply), so one that tries fails loudly with a TypeError (a dead letter
 * naming the error) instead of sending bytes that no longer say what the object does. Operators
 * never mutate their input (docs/architecture.md).
 *
 * FLEUVE_KAFKA_FORWARD_UNCHANGED=0 turns it off: every output is encoded, and nothing is frozen.
 */
export const forwardingUnchanged = (): boolean => process.env.FLEUVE_KAFKA_FORWARD_UNCHANGED !== "0"

/**
 * Freezes a decoded record and everything in it. JSON.parse makes plain objects and arrays only
 * (no cycles, no shared parts), so a walk over own keys reaches all of it once.
 */
export const deepFreeze = (value: unknown): void => {
  if (typeof value !== "object" || value === null) return
  Object.freeze(value)
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v = value[i]
      if (typeof v === "object" && v !== null) deepFreeze(v)
    }
    return
  }
  for (const k in value) {
    const v = (value as Record<string, unknown>)[k]
    if (typeof v === "object" && v !== null) deepFreeze(v)
  }
}

const SCALAR_TYPES = new Set(["string", "number", "integer", "boolean", "null"])

/** Whether a property's JSON Schema admits scalars only (a type, a union of types, an enum or a const of them). */
const scalarOnly = (schema: unknown): boolean => {
  if (typeof schema !== "object" || schema === null) return false
  const s = schema as { type?: unknown; anyOf?: unknown; oneOf?: unknown; enum?: unknown; const?: unknown }
  if (typeof s.type === "string") return SCALAR_TYPES.has(s.type)
  if (Array.isArray(s.type)) return s.type.every((t) => SCALAR_TYPES.has(t))
  const union = s.anyOf ?? s.oneOf
  if (Array.isArray(union)) return union.every(scalarOnly)
  if (Array.isArray(s.enum)) return s.enum.every((v) => typeof v !== "object" || v === null)
  if ("const" in s) return typeof s.const !== "object" || s.const === null
  return false
}

/**
 * How a stage freezes the decoded records of a type: a record whose registered schema is a closed
 * object of scalar properties can hold no nested object (the compiled validator accepts exactly
 * its fields, the Schema's decoder returns only them), so Object.freeze alone freezes all of it;
 * anything else is walked (deepFreeze). The walk cost ~0.05–0.15 µs a 200-byte Score in a
 * microbenchmark, on a path of ~4 µs.
 */
export const freezerOf = (jsonSchema: Record<string, unknown>): ((value: unknown) => void) => {
  const s = jsonSchema as { type?: unknown; properties?: Record<string, unknown>; additionalProperties?: unknown }
  const flat = s.type === "object" && s.additionalProperties === false && s.properties !== undefined && Object.values(s.properties).every(scalarOnly)
  return flat ? (value) => void Object.freeze(value) : deepFreeze
}

/** A fetched message's value bytes, without a copy where its client holds them in place. */
export const fetchedValue = (m: InMessage): Buffer | OutValue =>
  isInPlace(m) ? new FramedBytes(m.source, m.valueStart, m.valueEnd - m.valueStart) : m.value!

/**
 * The decoded records of one slice of a fetch, in order, with the bytes of those that may be
 * forwarded: filled while decoding, asked while routing the operator's outputs, emptied after the
 * slice. An output is matched to its input by the input's position object, which record-level
 * operators (map, filter, fromEffect, chain) carry over: outputs come in their inputs' order, so a
 * cursor finds each in a step or two, where a Map keyed by the decoded objects cost ~0.25 µs a
 * record (their identity hashes). An output whose position is not found from the cursor on (an
 * operator that reorders, or makes positions of its own) stops the matching for the rest of the
 * slice: those outputs are encoded, as are all outputs that are not the decoded object itself.
 */
export class Unchanged {
  private readonly values: Array<unknown> = []
  private readonly positions: Array<unknown> = []
  private readonly messages: Array<InMessage | undefined> = []
  private at = 0
  private lost = false
  private id: number | undefined

  /** `writerId`: the schema id the stage encodes its output type with (asked once, at the first record). */
  constructor(private readonly writerId: () => number) {}

  /**
   * The next decoded record (already frozen) and its envelope's position: forwardable if it was
   * read verbatim and written with the stage's writer id.
   */
  add(value: unknown, position: unknown, m: InMessage, schemaId: number, verbatim: boolean): void {
    this.values.push(value)
    this.positions.push(position)
    this.messages.push(verbatim && schemaId === (this.id ??= this.writerId()) ? m : undefined)
  }

  /** The fetched bytes of an output if it is one of this slice's decoded records, unchanged; else undefined. */
  bytesOf(value: unknown, position: unknown): Buffer | OutValue | undefined {
    if (this.lost) return undefined
    const positions = this.positions
    let c = this.at
    while (c < positions.length && positions[c] !== position) c++
    if (c === positions.length) {
      this.lost = true
      return undefined
    }
    // The cursor stays on this input: it may have emitted more than one output.
    this.at = c
    const m = this.messages[c]
    return m !== undefined && this.values[c] === value ? fetchedValue(m) : undefined
  }

  clear(): void {
    this.values.length = 0
    this.positions.length = 0
    this.messages.length = 0
    this.at = 0
    this.lost = false
  }
}
