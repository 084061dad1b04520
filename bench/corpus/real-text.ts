/**
 * The French real-text set of bench/corpus: Debian's French documentation, as a user would feed
 * it. Downloads `manpages-fr` and `debian-reference-fr` with `apt-get download` (no install, no
 * root needed beyond what apt-get download needs), extracts them with `dpkg-deb -x`, renders
 * every man page to plain text with `man -l` (groff, 80 columns, no justification or
 * hyphenation, overstrikes removed by `col -bx`) and splits the Debian Reference's text edition
 * into its sections. Writes one JSON line per document ({id, text, source}), sorted by id, so
 * the set is the same on every machine with the same package versions.
 *
 *   npx tsx bench/corpus/real-text.ts [--out .cache/bench-corpus/debian-fr]
 *
 * Everything lands under the ignored .cache/ folder; a second run reuses the .deb files and the
 * rendered pages. Prints the path of the JSONL and its size.
 */
import { execFile, spawnSync } from "node:child_process"
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { join, relative, resolve } from "node:path"
import { promisify } from "node:util"
import { gunzipSync } from "node:zlib"

const root = resolve(import.meta.dirname, "../..")
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1]! : fallback
}
export const PACKAGES = ["manpages-fr", "debian-reference-fr"] as const

const run = (cmd: string, args: ReadonlyArray<string>, cwd: string) => {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8" })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr || r.error}`)
  return r.stdout
}

const filesUnder = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]))

const execFileP = promisify(execFile)

/** One man page as plain text: groff through man(1), 80 columns, then overstrikes removed. */
const renderManPage = async (file: string): Promise<string> => {
  const { stdout } = await execFileP("sh", ["-c", 'man -l -E UTF-8 --nj --nh "$1" 2>/dev/null | col -bx', "render", file], {
    env: { ...process.env, MANWIDTH: "80", MAN_KEEP_FORMATTING: "0", LC_ALL: "C.UTF-8" },
    maxBuffer: 1 << 26
  })
  return stdout
}

/** The Debian Reference's text edition, one document per chapter introduction and per numbered section. */
export const splitReference = (text: string): Array<{ title: string; text: string }> => {
  const lines = text.split("\n")
  // The table of contents comes first; the body starts at the first unindented "Chapitre 1.".
  const start = lines.findIndex((l) => /^Chapitre 1\. /.test(l))
  const out: Array<{ title: string; text: string }> = []
  let title = "préface"
  let body: Array<string> = []
  const flush = () => {
    const t = body.join("\n").trim()
    if (t.length > 0) out.push({ title, text: t })
  }
  for (const line of lines.slice(Math.max(0, start))) {
    if (/^(Chapitre \d+\. |\d+\.\d+\. |Annexe [A-Z]\. )/.test(line)) {
      flush()
      title = line.trim()
      body = [line]
    } else body.push(line)
  }
  flush()
  return out
}

export const buildRealTextSet = async (outDir: string): Promise<{ path: string; docs: number; bytes: number }> => {
  const debs = join(outDir, "debs")
  const extract = join(outDir, "extract")
  const rendered = join(outDir, "rendered")
  mkdirSync(debs, { recursive: true })
  for (const p of PACKAGES) {
    if (!readdirSync(debs).some((f) => f.startsWith(`${p}_`) && f.endsWith(".deb"))) run("apt-get", ["download", p], debs)
  }
  if (!existsSync(join(extract, "usr"))) {
    mkdirSync(extract, { recursive: true })
    for (const f of readdirSync(debs).filter((f) => f.endsWith(".deb")).sort()) run("dpkg-deb", ["-x", join(debs, f), extract], outDir)
  }
  const docs: Array<{ id: string; text: string; source: string }> = []

  // Man pages: regular files only (the links are other names of the same pages).
  const manRoot = join(extract, "usr/share/man/fr")
  const pages = filesUnder(manRoot).filter((f) => lstatSync(f).isFile())
  mkdirSync(rendered, { recursive: true })
  let next = 0
  const worker = async () => {
    while (next < pages.length) {
      const page = pages[next++]!
      const id = `man/${relative(manRoot, page).replace(/\.gz$/, "")}`
      const cached = join(rendered, `${id.replace(/\//g, "_")}.txt`)
      const text = existsSync(cached) ? readFileSync(cached, "utf8") : await renderManPage(page)
      if (!existsSync(cached)) writeFileSync(cached, text)
      if (text.trim().length > 0) docs.push({ id, text: text.trim(), source: `${PACKAGES[0]}:${relative(extract, page)}` })
    }
  }
  await Promise.all([worker(), worker()])

  const refPath = filesUnder(join(extract, "usr/share/debian-reference")).find((f) => f.endsWith(".fr.txt.gz"))
  if (!refPath) throw new Error(`${PACKAGES[1]}: no .fr.txt.gz text edition under ${extract}`)
  splitReference(gunzipSync(readFileSync(refPath)).toString("utf8")).forEach((s, i) =>
    docs.push({ id: `debian-reference/${String(i).padStart(3, "0")}`, text: s.text, source: `${PACKAGES[1]}:${s.title}` }))

  docs.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const path = join(outDir, "corpus.jsonl")
  writeFileSync(path, docs.map((d) => JSON.stringify(d)).join("\n") + "\n")
  return { path, docs: docs.length, bytes: statSync(path).size }
}

if (process.argv[1] === import.meta.filename) {
  const out = resolve(root, arg("out", ".cache/bench-corpus/debian-fr"))
  const r = await buildRealTextSet(out)
  console.log(`${r.path}: ${r.docs} documents, ${(r.bytes / 1e6).toFixed(1)} MB`)
}
