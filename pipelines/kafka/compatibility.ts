/**
 * BACKWARD compatibility of two JSON Schemas of a record, checked field by field so a refusal can
 * name the field: the new schema must read every record written with the old one. We register
 * closed schemas (`additionalProperties: false`), the content model under which adding an optional
 * field is backward compatible and removing a field is not; the registry applies the same rule, and
 * this check only makes its answer precise.
 */

type JsonSchema = { readonly properties?: Record<string, unknown>; readonly required?: ReadonlyArray<string>; readonly [k: string]: unknown }

const canonical = (v: unknown): string =>
  JSON.stringify(v, (_k, val) =>
    val && typeof val === "object" && !Array.isArray(val) ? Object.fromEntries(Object.entries(val).sort(([a], [b]) => a.localeCompare(b))) : val)

export const backwardProblems = (previous: JsonSchema, next: JsonSchema, path = ""): ReadonlyArray<string> => {
  const problems: Array<string> = []
  const oldProps = previous.properties ?? {}
  const newProps = next.properties ?? {}
  const oldRequired = new Set(previous.required ?? [])
  const newRequired = new Set(next.required ?? [])
  for (const name of Object.keys(oldProps)) {
    if (!(name in newProps)) {
      problems.push(`field '${path}${name}' was removed (${oldRequired.has(name) ? "required" : "optional"}): records written with the previous schema carry it`)
    }
  }
  for (const name of Object.keys(newProps)) {
    if (!(name in oldProps) && newRequired.has(name)) {
      problems.push(`field '${path}${name}' is new and required: records written with the previous schema lack it (make it optional)`)
    }
  }
  for (const name of newRequired) {
    if (name in oldProps && !oldRequired.has(name)) problems.push(`field '${path}${name}' became required: older records may lack it`)
  }
  for (const name of Object.keys(newProps)) {
    if (!(name in oldProps)) continue
    const o = oldProps[name] as JsonSchema
    const n = newProps[name] as JsonSchema
    if (o && n && typeof o === "object" && typeof n === "object" && (o.properties || n.properties)) {
      problems.push(...backwardProblems(o, n, `${path}${name}.`))
    } else if (canonical(o) !== canonical(n)) {
      const oType = (o as JsonSchema | undefined)?.type
      const nType = (n as JsonSchema | undefined)?.type
      if (oType !== undefined && nType !== undefined && canonical(oType) !== canonical(nType)) {
        problems.push(`field '${path}${name}' changed type from ${canonical(oType)} to ${canonical(nType)}`)
      }
    }
  }
  return problems
}
