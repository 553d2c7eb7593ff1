import { accessSync, constants } from 'node:fs'

/** Where Debian's `chromium` package installs the browser; the only one these machines can run. */
export const CHROMIUM_PATH = '/usr/bin/chromium'

/**
 * Tells whether Chromium can be launched here: `undefined` when it can, otherwise the reason,
 * ready to pass to vitest's `describe.skipIf` or `skip(reason)`.
 *
 * @example
 * const missing = chromiumMissing()
 * describe.skipIf(missing !== undefined)(`in Chromium${missing ? ` (skipped: ${missing})` : ''}`, …)
 */
export function chromiumMissing(executablePath: string = CHROMIUM_PATH): string | undefined {
  try {
    accessSync(executablePath, constants.X_OK)
    return undefined
  } catch {
    return `${executablePath} is not installed or not executable; install it with "apt-get install -y chromium" (CI does)`
  }
}

/** Whether Chromium can be launched here (see `chromiumMissing` for the reason when it cannot). */
export function chromiumAvailable(executablePath: string = CHROMIUM_PATH): boolean {
  return chromiumMissing(executablePath) === undefined
}
