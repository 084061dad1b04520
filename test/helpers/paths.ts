import { resolve } from "node:path"

/** The repository's root and the test fixtures, wherever a test file sits under test/. */
export const repoRoot = resolve(import.meta.dirname, "../..")
export const fixturesDir = process.env.FLEUVE_TEST_FIXTURES ?? resolve(repoRoot, "test/fixtures")
