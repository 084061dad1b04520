// Modules rather than the "effect" index: this file loads with every command, --help included.
import * as Effect from "effect/Effect"
import type { Command } from "effect/cli"

/**
 * A command's handler, loaded when the command runs: `fleuve --help` and every other command
 * never load its dependencies (DuckDB, tfjs, vega, kafkajs, ...). The handler keeps its typed
 * errors; failing to load the module is a defect (a broken install), not an expected error.
 *
 *   (args) => lazyHandler(() => import("../handlers/query.ts"), (h) => h.queryHandler(args))
 */
export const lazyHandler = <M, A, E, R>(load: () => Promise<M>, run: (module: M) => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.promise(load), run)

/** What a command's handler receives for its flags and arguments. */
export type ArgsOf<Config extends Command.Command.Config> = Command.Command.Config.Infer<Config>
