import assert from "node:assert/strict"
import { test } from "node:test"
import { runCli } from "../helpers/warehouse.ts"

/** The names listed under SUBCOMMANDS in a help page (continuation lines of long descriptions are not indented). */
const subcommandsOf = (help: string): Array<string> => {
  const section = help.split(/\n(?=[A-Z][A-Z ]+\n)/).find((s) => s.startsWith("SUBCOMMANDS"))
  return section ? [...section.matchAll(/^ {2}([a-z][a-z0-9-]*) {2,}/gm)].map((m) => m[1]!) : []
}

/** The text of one section (DESCRIPTION, EXAMPLES, ...) of a help page. */
const sectionOf = (help: string, name: string): string =>
  help.split(/\n(?=[A-Z][A-Z ]+\n)/).find((s) => s.startsWith(`${name}\n`))?.slice(name.length + 1).trim() ?? ""

// `--help` must teach: every command, nested ones included, says what it does and shows how,
// and printing it loads no command's implementation (a failing import would show here).
test("fleuve --help and every subcommand's --help print a description and examples", () => {
  const root = runCli(["--help"])
  assert.equal(root.code, 0, root.stderr)
  const pending = subcommandsOf(root.stdout).map((c) => [c])
  assert.ok(pending.length >= 15, `expected the command list, got: ${root.stdout}`)
  const seen: Array<string> = []
  while (pending.length > 0) {
    const path = pending.shift()!
    const r = runCli([...path, "--help"])
    const name = `fleuve ${path.join(" ")}`
    assert.equal(r.code, 0, `${name} --help: ${r.stderr}`)
    assert.equal(r.stderr, "", `${name} --help wrote to stderr`)
    assert.ok(sectionOf(r.stdout, "DESCRIPTION").length > 20, `${name} --help has no description:\n${r.stdout}`)
    const examples = sectionOf(r.stdout, "EXAMPLES")
    assert.match(examples, /^\s*# \S/m, `${name} --help has no described example:\n${r.stdout}`)
    assert.match(examples, new RegExp(`^\\s*fleuve ${path[0]}\\b`, "m"), `${name} --help has no example of itself:\n${r.stdout}`)
    seen.push(name)
    pending.push(...subcommandsOf(r.stdout).map((c) => [...path, c]))
  }
  // The nested commands were reached too.
  for (const nested of ["fleuve model logprobs", "fleuve model generate", "fleuve train dapt", "fleuve train lora"]) assert.ok(seen.includes(nested), nested)
})
