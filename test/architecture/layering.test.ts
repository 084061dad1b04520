// The layering of docs/architecture.md, checked on every import of the product's code: each room
// imports only the rooms below it, model/ only through its doors (index.ts, names.ts), and no two
// modules import each other, even for types. A violation fails naming the file and line.
import assert from "node:assert/strict"
import { readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { describe, it } from "node:test"
import { repoRoot } from "../helpers/paths.ts"

/** Each room and the rooms it may import (besides itself). Kept in step with docs/architecture.md. */
export const allowedImports: Record<string, ReadonlyArray<string>> = {
  lib: [],
  schemas: ["lib"],
  model: ["lib"],
  warehouse: ["schemas", "lib"],
  analysis: ["warehouse", "schemas", "lib"],
  report: ["analysis", "warehouse", "schemas", "lib"],
  operators: ["model", "schemas", "lib"],
  pipelines: ["operators", "analysis", "report", "warehouse", "model", "schemas", "lib"],
  tools: ["lib"],
  cli: ["pipelines", "tools", "model", "lib"]
}
/**
 * The files of model/ that other rooms may import; cli/ only the light one (flag lists). tokenizer.ts
 * is the tokenizer alone, for the corpus chain's worker threads (a bundle without tfjs).
 */
const modelDoors: Record<string, ReadonlyArray<string>> = {
  cli: ["model/names.ts"],
  default: ["model/index.ts", "model/names.ts", "model/tokenizer.ts"]
}

export interface Import { readonly file: string; readonly line: number; readonly target: string; readonly typeOnly: boolean }

const sourceFiles = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? sourceFiles(p) : /\.(ts|mjs)$/.test(name) ? [p] : []
  })

const importPattern = /(?:^|[^\w.])(?:import|export)\s*(type\s+)?(?:[\w*{}\s,]*?\s*from\s*)?["'](\.{1,2}\/[^"']+)["']|import\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g

/** Every relative import of a file (static, re-export, dynamic), with its line, resolved to a repo path. */
export const importsOf = (file: string, text = readFileSync(file, "utf8")): Array<Import> => {
  const out: Array<Import> = []
  // comments say paths too: blank them, keeping line numbers
  const code = text.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, " ")).replace(/(^|[^:"'`])\/\/.*$/gm, "$1")
  for (const m of code.matchAll(importPattern)) {
    const spec = m[2] ?? m[3]!
    const line = code.slice(0, m.index).split("\n").length + (m[0].startsWith("\n") ? 1 : 0)
    out.push({ file: relative(repoRoot, file), line, target: relative(repoRoot, resolve(dirname(file), spec)), typeOnly: m[1] !== undefined })
  }
  return out
}

const roomOf = (path: string): string => path.split("/")[0]!

/** Why an import breaks the layering, or undefined. */
export const violation = (i: Import): string | undefined => {
  const from = roomOf(i.file)
  const to = roomOf(i.target)
  if (from === to) return undefined
  const allowed = allowedImports[from]
  if (!allowed) return undefined
  if (!allowed.includes(to)) return `${i.file}:${i.line}: ${from}/ may not import ${to}/ (${i.target}); ${from}/ may import ${allowed.join(", ") || "nothing of fleuve"}`
  if (to === "model") {
    const doors = modelDoors[from] ?? modelDoors.default!
    if (!doors.includes(i.target)) return `${i.file}:${i.line}: ${i.target} is inside model/: import ${doors.join(" or ")}`
  }
  return undefined
}

/** Import cycles among the given files' imports, each as the list of files around it. */
export const cycles = (imports: ReadonlyArray<Import>): Array<Array<string>> => {
  const edges = new Map<string, Set<string>>()
  for (const i of imports) {
    if (!edges.has(i.file)) edges.set(i.file, new Set())
    edges.get(i.file)!.add(i.target)
  }
  const found: Array<Array<string>> = []
  const state = new Map<string, "visiting" | "done">()
  const stack: Array<string> = []
  const visit = (f: string) => {
    state.set(f, "visiting")
    stack.push(f)
    for (const t of edges.get(f) ?? []) {
      if (state.get(t) === "visiting") found.push([...stack.slice(stack.indexOf(t)), t])
      else if (!state.has(t)) visit(t)
    }
    stack.pop()
    state.set(f, "done")
  }
  for (const f of edges.keys()) if (!state.has(f)) visit(f)
  return found
}

const productRooms = Object.keys(allowedImports)
const productImports = () => productRooms.flatMap((room) => sourceFiles(join(repoRoot, room))).flatMap((f) => importsOf(f))

describe("layering (docs/architecture.md)", () => {
  it("every import of the product runs down the layers, into model/ only through its doors", () => {
    const problems = productImports().map(violation).filter((v) => v !== undefined)
    assert.deepEqual(problems, [], `\n${problems.join("\n")}`)
  })

  it("no two modules import each other", () => {
    const found = cycles(productImports())
    assert.deepEqual(found, [], `\n${found.map((c) => c.join(" → ")).join("\n")}`)
  })

  it("catches an upward import, an import inside model/ and a circle, naming file and line", () => {
    const upward = importsOf(join(repoRoot, "model/x.ts"), `import { a } from "../lib/a.ts"\n// from "../operators/no.ts"\nimport type { Score } from "../schemas/evaluation.ts"`)
    assert.deepEqual(upward.map(violation).filter(Boolean), ["model/x.ts:3: model/ may not import schemas/ (schemas/evaluation.ts); model/ may import lib"])
    const inside = importsOf(join(repoRoot, "operators/y.ts"), `const m = await import(\n"../model/tfjs/backend.ts")`)
    assert.deepEqual(inside.map(violation), ["operators/y.ts:1: model/tfjs/backend.ts is inside model/: import model/index.ts or model/names.ts or model/tokenizer.ts"])
    const circle = [
      ...importsOf(join(repoRoot, "cli/commands/q.ts"), `import { h } from "../handlers/q.ts"`),
      ...importsOf(join(repoRoot, "cli/handlers/q.ts"), `import type { Args } from "../commands/q.ts"`)
    ]
    assert.deepEqual(cycles(circle), [["cli/commands/q.ts", "cli/handlers/q.ts", "cli/commands/q.ts"]])
  })
})
