/**
 * Where fleuve's results (the JSONL of `model logprobs|generate`, `query` rows, …) go when the
 * launcher asks: FLEUVE_RESULTS_FD=N makes process.stdout write to file descriptor N, synchronously.
 *
 * Why: Dawn (dawn.node) prints its shader compilation logs — "use of deprecated builtin" for every
 * subgroupMatrixLoad/Store, up to its limit of logs — with C stdio on file descriptor 1, which no
 * JavaScript can redirect. The GPU bundle's run.sh starts Node with `3>&1 1>&2` and
 * FLEUVE_RESULTS_FD=3: the results keep the launcher's stdout, anything native writes to fd 1 lands
 * on stderr (issue 22: 2 523 lines on stdout for 1 000 scored options on the H100).
 *
 * Imported first by cli/main.ts, before any module could write to stdout or load Dawn.
 */
import { fstatSync, writeSync } from "node:fs"
import { Writable } from "node:stream"
import { isatty } from "node:tty"

const routeResults = (): void => {
  const raw = process.env.FLEUVE_RESULTS_FD
  if (raw === undefined || raw === "") return
  const fd = Number(raw)
  if (!Number.isInteger(fd) || fd < 0) {
    process.stderr.write(`fleuve: FLEUVE_RESULTS_FD must be a file descriptor number, not '${raw}'\n`)
    process.exit(2)
  }
  try {
    fstatSync(fd)
  } catch {
    process.stderr.write(`fleuve: FLEUVE_RESULTS_FD=${fd} is not an open file descriptor (start fleuve with ${fd}>&1)\n`)
    process.exit(2)
  }
  const stream = new Writable({
    // synchronous, as Node's own stdout is for files and pipes: nothing is lost at process.exit
    write(chunk: Buffer, _encoding, done) {
      try {
        for (let off = 0; off < chunk.length;) off += writeSync(fd, chunk, off)
        done()
      } catch (e) {
        done(e as Error)
      }
    }
  }) as Writable & { isTTY?: boolean; fd?: number }
  stream.isTTY = isatty(fd)
  stream.fd = fd
  Object.defineProperty(process, "stdout", { configurable: true, enumerable: true, get: () => stream })
}

routeResults()
