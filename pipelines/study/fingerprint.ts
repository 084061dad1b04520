/**
 * What a step's key knows of its input files. Files up to 64 MiB are identified by the SHA-256 of
 * their content (an edit that keeps size and time still changes the key); larger ones (a 28 GB
 * checkpoint, a corpus of gigabytes) by name, size and modification time, which is what a
 * planner can afford to read at every run. A folder is the sorted list of its files' identities.
 */
import { createHash } from "node:crypto"
import { closeSync, openSync, readdirSync, readSync, statSync } from "node:fs"
import { join, relative } from "node:path"

export const CONTENT_HASH_LIMIT = 64 << 20

const contentHash = (file: string): string => {
  const h = createHash("sha256")
  const buf = Buffer.alloc(1 << 20)
  const fd = openSync(file, "r")
  try {
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) h.update(buf.subarray(0, n))
  } finally {
    closeSync(fd)
  }
  return h.digest("hex")
}

const filesUnder = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort()

/** A file's or folder's identity; a missing path is an error naming it. */
export const fingerprint = (path: string): string => {
  let st
  try {
    st = statSync(path)
  } catch {
    throw new Error(`${path}: no such file or folder`)
  }
  if (st.isDirectory()) {
    const h = createHash("sha256")
    for (const f of filesUnder(path)) h.update(`${relative(path, f)}\0${fingerprint(f)}\0`)
    return h.digest("hex")
  }
  return st.size <= CONTENT_HASH_LIMIT ? contentHash(path) : `size ${st.size} mtime ${st.mtimeMs}`
}

/** A stable hash of any JSON value (keys sorted): a step's key. */
export const hashValue = (value: unknown): string => createHash("sha256").update(stableJson(value)).digest("hex")

export const stableJson = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v)
