import { Effect } from "effect"
import { sqlFile, Warehouse } from "./warehouse.ts"

/** The `systems` table: what each evaluated system is. */
export const Systems = {
  /** Records a system with its model identity (a newer identity replaces an older one). */
  record: (s: { readonly system: string; readonly modelId: string; readonly modelRevision: string; readonly adapterHash: string; readonly description?: string | undefined }) =>
    Effect.gen(function*() {
      const w = yield* Warehouse
      yield* w.exec(sqlFile("systems"), [s.system, s.modelId, s.modelRevision, s.adapterHash, s.description ?? null])
    }),
  /** Records a system known only by name (an import), unless it is already there. */
  ensure: (system: string, description: string) =>
    Effect.gen(function*() {
      const w = yield* Warehouse
      yield* w.exec("INSERT INTO systems (system, description) VALUES ($1, $2) ON CONFLICT DO NOTHING", [system, description])
    })
}
