import { Console, Effect, Option } from "effect"
import { writeReport } from "../../pipelines/report.ts"
import { recordedRun, warehouseAt } from "../../pipelines/services.ts"
import { reportFailure } from "../common.ts"
import type { ReportArgs } from "../flags/report.ts"

export const reportHandler = ({ warehouse, out, reference, config, sample }: ReportArgs) =>
  recordedRun("report", { out, reference, config, sample }, Effect.gen(function*() {
    const files = yield* writeReport({
      out,
      reference: Option.getOrUndefined(reference),
      sample: Option.getOrUndefined(sample),
      configFile: Option.getOrUndefined(config),
      onFigure: (id, title) => process.stderr.write(`figure ${id}: ${title}\n`)
    })
    const svgs = files.filter((f) => f.path.endsWith(".svg")).length
    yield* Console.log(`${out}: ${svgs} SVG figures, report.md, report.html (${files.length} files)`)
    return { out, files: files.length, figures: svgs }
  })).pipe(
    Effect.provide(warehouseAt(warehouse, { mustExist: true })),
    Effect.catchTags({ ReportError: reportFailure, WarehouseError: reportFailure })
  )
