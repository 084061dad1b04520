/**
 * A fast accept path for the Effect Schema validation every consumed record goes through. From a
 * Schema's AST it builds a plain function that says "valid, and already in the exact shape the
 * Schema's decoder would return" for the common case, and "don't know" otherwise: the caller then
 * runs the Schema's own decoder, which gives the verdict and the error text. So the compiled path
 * can only ever agree with the Schema, never replace its judgement:
 *
 * - it runs the Schema's own checks (each Filter's `run`), not a re-statement of them;
 * - it accepts a plain JSON object only when its keys are exactly the struct's fields, present
 *   ones in declaration order (the order the decoder writes them), so returning the parsed object
 *   itself equals what the decoder would build;
 * - any node it does not know (transformations, unions of non-literals, index signatures, tuples,
 *   classes, declarations) makes `compileValidator` return undefined: the Schema decides alone.
 *
 * Measured on Score records (bench/kafka/run.ts): the decoder's ~1.5–2 µs a record becomes a few
 * hundred nanoseconds.
 */
import type { Schema } from "effect"
import type * as AST from "effect/SchemaAST"

type Check = (u: unknown) => boolean

// Effect passes one options object to every check of a decode too (ParseOptions are read-only).
const NO_OPTIONS = {}

export const runChecks = (checks: ReadonlyArray<unknown> | undefined, ast: AST.AST): Check | undefined => {
  if (checks === undefined || checks.length === 0) return () => true
  const runs: Array<(u: unknown) => boolean> = []
  const add = (c: any): boolean => {
    if (c._tag === "Filter" && typeof c.run === "function") {
      // One (empty) parse-options object for every call, not a new one per check per record.
      runs.push((u) => c.run(u, ast, NO_OPTIONS) === undefined)
      return true
    }
    if (c._tag === "FilterGroup" && Array.isArray(c.checks)) return c.checks.every(add)
    return false
  }
  if (!checks.every(add)) return undefined
  return (u) => {
    for (const r of runs) if (!r(u)) return false
    return true
  }
}

const compileNode = (ast: any): Check | undefined => {
  if (ast.encoding !== undefined) return undefined
  const checks = runChecks(ast.checks, ast)
  if (!checks) return undefined
  let base: Check | undefined
  switch (ast._tag) {
    case "String":
      base = (u) => typeof u === "string"
      break
    case "Number":
      base = (u) => typeof u === "number"
      break
    case "Boolean":
      base = (u) => typeof u === "boolean"
      break
    case "Literal": {
      const literal = ast.literal
      base = (u) => u === literal
      break
    }
    case "Undefined":
      base = (u) => u === undefined
      break
    case "Null":
      base = (u) => u === null
      break
    case "Union": {
      // Scalar members and at most one struct or array (optional fields are `T | undefined`):
      // with two structs, the decoder may take a value through another member than the one
      // that accepts it here, and return that member's shape.
      const scalar = new Set(["String", "Number", "Boolean", "Literal", "Undefined", "Null"])
      if (ast.types.filter((t: any) => !scalar.has(t._tag)).length > 1) return undefined
      const members = ast.types.map(compileNode)
      if (members.some((m: Check | undefined) => m === undefined)) return undefined
      base = (u) => members.some((m: Check) => m(u))
      break
    }
    case "Arrays": {
      if (ast.elements.length !== 0 || ast.rest.length !== 1) return undefined
      const item = compileNode(ast.rest[0])
      if (!item) return undefined
      base = (u) => Array.isArray(u) && u.every(item)
      break
    }
    case "Objects":
      base = compileObject(ast)
      break
    default:
      return undefined
  }
  if (!base) return undefined
  const b = base
  return (u) => b(u) && checks(u)
}

const compileObject = (ast: any): Check | undefined => {
  if (ast.indexSignatures.length > 0 || (ast.encodingChecks ?? []).length > 0) return undefined
  const fields: Array<{ name: string; optional: boolean; check: Check }> = []
  for (const p of ast.propertySignatures) {
    if (typeof p.name !== "string") return undefined
    const check = compileNode(p.type)
    if (!check) return undefined
    fields.push({ name: p.name, optional: p.type.context?.isOptional === true, check })
  }
  return (u) => {
    if (typeof u !== "object" || u === null || Object.getPrototypeOf(u) !== Object.prototype) return false
    const o = u as Record<string, unknown>
    // Keys exactly the fields, in declaration order (absent optional ones skipped).
    let f = 0
    for (const key in o) {
      while (f < fields.length && fields[f]!.name !== key) {
        if (!fields[f]!.optional) return false
        f++
      }
      if (f === fields.length) return false
      if (!fields[f]!.check(o[key])) return false
      f++
    }
    for (; f < fields.length; f++) if (!fields[f]!.optional) return false
    return true
  }
}

/**
 * `(u) => true` when `u` is valid and shaped exactly as the Schema's decoder would return it;
 * `false` means "ask the Schema". Undefined when the Schema has parts this compiler does not know.
 */
export const compileValidator = (schema: Schema.Top): Check | undefined => compileNode(schema.ast)
