import { Console, Effect, Option } from "effect"
import { writeReport } from "../../pipelines/report.ts"
import { warehouseAt } from "../../pipelines/services.ts"
import { reportFailure } from "../common.ts"
import type { ReportArgs } from "../flags/report.ts"

export const reportHandler = ({ warehouse, out, reference, config }: ReportArgs) =>
  Effect.gen(function*() {
    const files = yield* writeReport({
      out,
      reference: Option.getOrUndefined(reference),
      configFile: Option.getOrUndefined(config),
      onFigure: (id, title) => process.stderr.write(`figure ${id}: ${title}\n`)
    })
    const svgs = files.filter((f) => f.path.endsWith(".svg")).length
    yield* Console.log(`${out}: ${svgs} SVG figures, report.md, report.html (${files.length} files)`)
  }).pipe(
    Effect.provide(warehouseAt(warehouse)),
    Effect.catchTags({ ReportError: reportFailure, WarehouseError: reportFailure })
  )
