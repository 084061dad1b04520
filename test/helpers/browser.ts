import { existsSync } from "node:fs"
import { chromium, type Browser } from "playwright-core"

/** Debian's Chromium, installed by scripts/setup/20-chromium.sh. */
export const CHROMIUM_PATH = "/usr/bin/chromium"

/**
 * Launches headless Chromium the way this machine needs: no sandbox (CI runs as root), no GPU, and
 * none of the background traffic that a closed network refuses.
 */
export const launchChromium = (): Promise<Browser> => {
  if (!existsSync(CHROMIUM_PATH)) {
    return Promise.reject(new Error(`${CHROMIUM_PATH} is missing: run scripts/setup/20-chromium.sh (npm test runs it unless FLEUVE_SKIP_SETUP is set)`))
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run"
    ]
  })
}
