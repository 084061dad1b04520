#!/usr/bin/env -S node --max-semi-space-size=64
// (The flags on the first line are bin/node-flags.mjs's NODE_FLAGS: why there.)
// The CLI runs straight from the TypeScript sources (no build step): they are compiled on first
// use into .cache/cli/ and recompiled when one changes (see compiled-cli.mjs); where that cannot
// be done, tsx compiles them on load.
import { pathToFileURL } from "node:url"
import { compiledCli } from "./compiled-cli.mjs"

const entry = await compiledCli()
if (entry) {
  // Source maps are written but not enabled by default: enabling them makes Node read the map of
  // every module it loads (effect's hundreds included), +25% on `--help`. For stack traces that
  // point at the TypeScript sources: NODE_OPTIONS=--enable-source-maps (or FLEUVE_TSX=1).
  await import(pathToFileURL(entry).href)
} else {
  const { register } = await import("tsx/esm/api")
  register()
  await import("../cli/main.ts")
}
