// Modules rather than the "effect" index: this file loads with every command, --help included.
import * as Console from "effect/Console"
import { CliOutput } from "effect/cli"

/**
 * How the CLI answers a command it cannot parse (a missing required flag, an unknown one, a bad
 * value): the error and the command's usage line on stderr, and where the full help is, instead of
 * the whole help page on stdout with the error at its end, where a newcomer misses it. The run
 * still fails (exit code 1). Help asked
 * for (`--help`) and versions are presented as effect/cli does.
 */
export const invalidInvocationPresenter = CliOutput.layerPresenter({
  present: (event) =>
    event._tag === "InvalidInvocation"
      ? Console.error(
        `${event.errors.map((e) => `fleuve: ${e.message}`).join("\n")}\n` +
          `usage: ${event.helpDoc.usage}\n` +
          `(fleuve ${event.commandPath.slice(1).join(" ")}${event.commandPath.length > 1 ? " " : ""}--help lists every flag, its default and examples)`
      )
      : CliOutput.defaultPresenter.present(event)
})
