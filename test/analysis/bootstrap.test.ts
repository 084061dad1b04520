import assert from "node:assert/strict"
import { test } from "node:test"
import { Effect } from "effect"
import { importScores } from "../../pipelines/import-scores.ts"
import { runAnalyses } from "../../analysis/analyses.ts"
import { bootstrapCi, bootstrapMeans, latticeMeans, mixedMeans, percentile, percentiles } from "../../analysis/stats/bootstrap.ts"
import { bootstrapIntervals } from "../../analysis/stats/bootstrap-pool.ts"
import { decimalLattice, sumDistribution } from "../../analysis/stats/lattice.ts"
import { seededRandom } from "../../analysis/stats/random.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"
import { type AnalysisFixture, loadFixture, writeScores } from "../helpers/analyses.ts"
import { runWithWarehouse, tempWarehousePath } from "../helpers/warehouse.ts"

/** P(sum of n draws = s) by n direct convolutions: the definition, for small n. */
const convolved = (z: ReadonlyArray<number>, counts: ReadonlyArray<number>, n: number) => {
  const total = counts.reduce((a, b) => a + b, 0)
  const lo = Math.min(...z)
  const width = Math.max(...z) - lo
  let pmf = Float64Array.of(1)
  for (let i = 0; i < n; i++) {
    const next = new Float64Array(pmf.length + width)
    for (let s = 0; s < pmf.length; s++) {
      if (pmf[s] === 0) continue
      for (let j = 0; j < z.length; j++) next[s + z[j]! - lo] += (pmf[s]! * counts[j]!) / total
    }
    pmf = next
  }
  return { lowest: n * lo, pmf }
}

test("the lattice distribution of a resample's sum equals the n-fold convolution (cdf within 1e-12)", () => {
  const cases: Array<[Array<number>, Array<number>]> = [
    [[-1, 0, 1], [7, 30, 13]], // binary accuracy differences
    [[-4, -1, 0, 2, 3], [5, 100, 300, 100, 2]], // 1–5 grades, skewed
    [[-2, 0, 2, 4], [3, 10, 6, 1]], // only even values: the pmf lives on every other integer
    [[-71, -3, 1, 23, 35], [3, 4, 200, 60, 90]] // F1-like, wide
  ]
  for (const [z, counts] of cases) {
    const n = counts.reduce((a, b) => a + b, 0)
    const exact = convolved(z, counts, n)
    const got = sumDistribution(z, counts, n)!
    let acc = 0
    let worst = 0
    for (let s = 0; s < exact.pmf.length; s++) {
      acc += exact.pmf[s]!
      const i = exact.lowest + s - got.lowest
      const cdf = i < 0 ? 0 : i >= got.cdf.length ? 1 : got.cdf[i]!
      worst = Math.max(worst, Math.abs(cdf - acc))
    }
    assert.ok(worst < 1e-12, `z = ${z}: max |cdf error| ${worst}`)
  }
})

test("decimal lattice: SQL-rounded differences of 2-decimal scores sit on 0.01; finer values do not", () => {
  const d = [0.71 - 0.7, 0.35 - 0.12, -0.7100000000000001, -0.71, 0, 1]
  const lattice = decimalLattice(d)!
  assert.equal(lattice.scale, 100)
  assert.deepEqual(lattice.z, [1, 23, -71, -71, 0, 100])
  assert.equal(decimalLattice([1, -1, 0])!.scale, 1)
  assert.equal(decimalLattice([1 / 3, 0]), null)
  assert.equal(decimalLattice([0.1234567]), null)
})

/** Mean and variance of resampled means vs the bootstrap's own: mean of the data, σ²/n. */
const moments = (means: Float64Array) => {
  const m = means.reduce((a, b) => a + b, 0) / means.length
  return { mean: m, variance: means.reduce((a, b) => a + (b - m) ** 2, 0) / (means.length - 1) }
}

test("lattice, binomial-chain, mixed and direct routes draw the same bootstrap distribution", () => {
  const values = [-0.5, -0.25, -0.1, 0, 0.05, 0.3, 0.75]
  const counts = [3, 12, 40, 90, 33, 15, 7]
  const n = counts.reduce((a, b) => a + b, 0)
  const mean = values.reduce((a, v, j) => a + v * counts[j]!, 0) / n
  const sigma2 = values.reduce((a, v, j) => a + (v - mean) ** 2 * counts[j]!, 0) / n
  const resamples = 100_000
  const routes = {
    lattice: latticeMeans(values, counts, resamples, seededRandom("lattice"))!,
    chain: mixedMeans(values, counts, resamples, seededRandom("chain"), 0),
    mixed: mixedMeans(values, counts, resamples, seededRandom("mixed"), 20),
    direct: mixedMeans(values, counts, resamples, seededRandom("direct"), Infinity)
  }
  const quantiles: Record<string, Array<number>> = {}
  for (const [route, means] of Object.entries(routes)) {
    const m = moments(means)
    const se = Math.sqrt(sigma2 / n / resamples)
    assert.ok(Math.abs(m.mean - mean) < 5 * se, `${route}: mean ${m.mean} vs ${mean}`)
    // Variance of a sample variance ≈ 2σ⁴/(R−1) (the resampled mean is close to normal here).
    assert.ok(Math.abs(m.variance / (sigma2 / n) - 1) < 5 * Math.sqrt(2 / resamples), `${route}: variance ${m.variance} vs ${sigma2 / n}`)
    quantiles[route] = percentiles(means.slice(), [0.025, 0.5, 0.975])
  }
  // The same quantiles, within Monte Carlo error (a quantile's SE here is about 0.06 σ/√n ≈ 0.0015).
  for (const route of ["chain", "mixed", "direct"]) {
    quantiles[route]!.forEach((q, i) => assert.ok(Math.abs(q - quantiles.lattice![i]!) < 0.005, `${route} quantile ${i}: ${q} vs lattice ${quantiles.lattice![i]}`))
  }
})

test("percentiles by selection equal numpy.percentile on the sorted values", () => {
  const rng = seededRandom("select")
  for (let trial = 0; trial < 500; trial++) {
    const a = Float64Array.from({ length: 1 + (trial % 97) * 13 }, () => Math.floor(rng.next() * (1 + (trial % 7))) / 4)
    const sorted = a.slice().sort()
    assert.deepEqual(percentiles(a, [0.025, 0.975]), [percentile(sorted, 0.025), percentile(sorted, 0.975)])
  }
})

test("on a lattice, the interval from counted draws equals numpy.percentile of the resampled means", () => {
  const cases: Array<[Array<number>, Array<number>]> = [
    [[-1, 0, 1], [70, 300, 130]],
    [[-0.71, -0.05, 0, 0.01, 0.35], [3, 40, 200, 60, 9]],
    [[2, 3], [1, 1]]
  ]
  for (const [values, counts] of cases) {
    for (const resamples of [1, 2, 999, 10_000]) {
      const means = bootstrapMeans(values, counts, resamples, seededRandom("same"))
      const tail = (1 - 0.95) / 2 // as bootstrapCi computes it (0.025000000000000022)
      assert.deepEqual(bootstrapCi(values, counts, resamples, seededRandom("same")), percentiles(means, [tail, 1 - tail]))
    }
  }
})

test("bootstrap intervals are identical with 1 and several worker threads", async () => {
  const rng = seededRandom("jobs")
  const jobs = Array.from({ length: 40 }, (_, i) => {
    const kind = i % 5
    const m = new Map<number, number>()
    const items = 50 + Math.floor(rng.next() * 300)
    for (let k = 0; k < items; k++) {
      // Binary, 1–5 grade and 2-decimal F1 differences (lattice route); a few values off any lattice
      // (binomial chain); continuous differences, nearly all distinct (direct draws).
      const d = kind === 0 ? Math.round(rng.next() * 2) - 1
        : kind === 1 ? Math.round(rng.next() * 8) - 4
        : kind === 2 ? Math.round(rng.next() * 100) / 100 - Math.round(rng.next() * 100) / 100
        : kind === 3 ? Math.SQRT2 * Math.floor(rng.next() * 6)
        : rng.next() - rng.next()
      m.set(d, (m.get(d) ?? 0) + 1)
    }
    const values = [...m.keys()].sort((a, b) => a - b)
    return { seedLabel: `7\u0000job${i}`, values, counts: values.map((v) => m.get(v)!) }
  })
  jobs.push({ seedLabel: "empty", values: [], counts: [] }, { seedLabel: "constant", values: [0.25], counts: [9] })
  const one = await bootstrapIntervals(jobs, 2_000, 1)
  const three = await bootstrapIntervals(jobs, 2_000, 3)
  assert.deepEqual(three, one)
  assert.deepEqual(one.at(-2), [0, 0])
  assert.deepEqual(one.at(-1), [0.25, 0.25])
})

test("fleuve analyze gives the same bootstrap rows with 1 and 2 workers", async () => {
  const fixture = loadFixture<AnalysisFixture>("enmed")
  const db = tempWarehousePath()
  await runWithWarehouse(db, importScores(writeScores(fixture), { keepGoing: false }))
  const rows = (workers: number) =>
    runWithWarehouse(db, Effect.gen(function*() {
      yield* runAnalyses({ reference: fixture.reference, seed: 5, workers })
      const w = yield* Warehouse
      return yield* w.query("SELECT task, shots, system, ci_low, ci_high FROM paired_tests WHERE test = 'bootstrap' ORDER BY ALL")
    }))
  const inThread = await rows(1)
  assert.ok(inThread.length > 0)
  assert.deepEqual(await rows(2), inThread)
})
