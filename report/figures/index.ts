import type { Figure } from "./common.ts"
import { bestPerCell } from "./best-per-cell.ts"
import { criticalDifference } from "./critical-difference.ts"
import { deltaHeatmaps } from "./delta-heatmaps.ts"
import { globalRanking } from "./global-ranking.ts"
import { normalizedHeatmap } from "./normalized-heatmap.ts"
import { pairedTests } from "./paired-tests.ts"
import { rawScores } from "./raw-scores.ts"
import { significanceHeatmap } from "./significance-heatmap.ts"
import { significanceRecord } from "./significance-record.ts"
import { taskMeans } from "./task-means.ts"

/** The report's figures, in the order they appear. */
export const FIGURES: ReadonlyArray<Figure> = [
  rawScores,
  normalizedHeatmap,
  deltaHeatmaps,
  taskMeans,
  globalRanking,
  pairedTests,
  significanceHeatmap,
  significanceRecord,
  bestPerCell,
  criticalDifference
]
