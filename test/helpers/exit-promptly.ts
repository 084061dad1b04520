// Loaded into every test file's process by scripts/test.mjs (`--import`): once a file's last test
// has ended, its process must exit within EXIT_GRACE_MS, its suites' `after` hooks included. One
// that does not is held open by something its tests left behind (a deadline timer that lost its
// race, a client not closed, a child process not stopped) and the runner waits for it: in session
// 10 four Kafka test files idled 30–100 s each after their tests, 4 of the suite's 22 minutes.
// Such a file now fails, naming what holds it open and where each long timer was set.
import { createHook } from "node:async_hooks"
import { afterEach, beforeEach } from "node:test"

const EXIT_GRACE_MS = Number(process.env.FLEUVE_TEST_EXIT_GRACE_MS ?? 20_000)

// Only in the processes that run a test file (the runner itself is not watched).
if (process.env.NODE_TEST_CONTEXT !== undefined) {
  /** Timers of a second or more still pending, with the frames that set them. */
  const longTimers = new Map<number, string>()
  createHook({
    init(id, type, _trigger, resource) {
      const ms = (resource as { _idleTimeout?: number })._idleTimeout ?? 0
      if (type === "Timeout" && ms >= 1000) {
        // Deep enough to get past the hook's and the timers' own frames (about ten).
        const limit = Error.stackTraceLimit
        Error.stackTraceLimit = 24
        const stack = new Error().stack!
        Error.stackTraceLimit = limit
        const frames = stack.split("\n").slice(1).filter((f) => !/[( ]node:|helpers\/exit-promptly\.ts|<anonymous>/.test(f)).slice(0, 4)
        if (frames.length > 0) longTimers.set(id, `a ${ms} ms timer set\n${frames.join("\n")}`)
      }
    },
    destroy(id) {
      longTimers.delete(id)
    }
  }).enable()

  // Armed after each test and disarmed when the next one starts: the root `after` hook would not
  // do, as it runs before the tests a file registers after a top-level await.
  let watch: NodeJS.Timeout | undefined
  beforeEach(() => clearTimeout(watch))
  afterEach(() => {
    clearTimeout(watch)
    watch = setTimeout(() => {
      const holding = process.getActiveResourcesInfo().filter((r) => r !== "TTYWrap")
      process.stderr.write(
        `\nthis test file's process was still running ${EXIT_GRACE_MS / 1000} s after its last test, held open by ${JSON.stringify(holding)}` +
          `${[...longTimers.values()].map((t) => `\n${t}`).join("")}\n`
      )
      process.exit(1)
    }, EXIT_GRACE_MS).unref()
  })
}
