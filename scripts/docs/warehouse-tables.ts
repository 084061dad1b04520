// Regenerates README's "Warehouse tables" block and docs/warehouse.md's column reference from
// warehouse/schema-docs.ts (the one source of the warehouse's COMMENT ON statements):
//   node --import tsx scripts/docs/warehouse-tables.ts
// test/warehouse/schema-docs.test.ts fails when they are out of date.
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { replaceGenerated } from "../../lib/generated-block.ts"
import { columnDocs, readmeTables } from "../../warehouse/schema-docs.ts"

const root = join(import.meta.dirname, "..", "..")
for (const [file, body] of [["README.md", readmeTables()], ["docs/warehouse.md", columnDocs()]] as const) {
  const path = join(root, file)
  writeFileSync(path, replaceGenerated(readFileSync(path, "utf8"), "warehouse-tables", body))
  console.log(`updated ${file}`)
}
