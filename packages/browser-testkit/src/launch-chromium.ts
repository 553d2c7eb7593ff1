import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BrowserContext, chromium, type Page } from 'playwright-core'
import { CHROMIUM_PATH, chromiumMissing } from './chromium-available.js'

/** The flags every launch uses: headless, no sandbox (containers), and nothing that reaches the network. */
export const CHROMIUM_FLAGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** Options for `launchChromium`. */
export interface LaunchChromiumOptions {
  /** The browser binary. Default is `/usr/bin/chromium`. */
  executablePath?: string
  /** Flags added after `CHROMIUM_FLAGS`. */
  args?: string[]
  /**
   * Receives every page's console messages and uncaught errors, prefixed with the page's
   * number. Default prints errors and warnings to stderr, so a failing page explains itself.
   */
  log?: (line: string) => void
}

/** One Chromium with a fresh profile: every page shares its storage (IndexedDB, Web Locks, BroadcastChannel). */
export interface ChromiumSession {
  /** The browser context; all its pages are tabs of one profile, like a user's. */
  readonly context: BrowserContext
  /** Opens a new tab, optionally at `url`, and waits for its `load` event. */
  newPage(url?: string): Promise<Page>
  /** Closes the browser and deletes its profile. A second call does nothing. */
  close(): Promise<void>
}

/**
 * Launches Debian's Chromium through playwright-core with a fresh temporary profile
 * (`--user-data-dir`), so storage persists across `page.reload()` and between the tabs of
 * this session but never leaks into another run.
 *
 * @example
 * const browser = await launchChromium()
 * const page = await browser.newPage(site.url)
 * await browser.close()
 */
export async function launchChromium(options: LaunchChromiumOptions = {}): Promise<ChromiumSession> {
  const executablePath = options.executablePath ?? CHROMIUM_PATH
  const missing = chromiumMissing(executablePath)
  if (missing !== undefined) throw new Error(`Cannot launch Chromium: ${missing}`)
  const log = options.log ?? defaultLog
  const profile = await mkdtemp(join(tmpdir(), 'engram-chromium-'))
  let context: BrowserContext
  try {
    // playwright-core takes the profile directory itself: it refuses --user-data-dir in args.
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: [...CHROMIUM_FLAGS, ...(options.args ?? [])],
    })
  } catch (error) {
    await rm(profile, { recursive: true, force: true })
    throw error
  }
  let pages = 0
  const watch = (page: Page): void => {
    const id = ++pages
    page.on('console', (message) => log(`[page ${id}] console.${message.type()}: ${message.text()}`))
    page.on('pageerror', (error) => log(`[page ${id}] uncaught: ${error.stack ?? error.message}`))
  }
  context.pages().forEach(watch)
  context.on('page', watch)
  let closing: Promise<void> | undefined
  return {
    context,
    async newPage(url) {
      const page = await context.newPage()
      if (url !== undefined) await page.goto(url, { waitUntil: 'load' })
      return page
    },
    close() {
      closing ??= context.close().finally(() => rm(profile, { recursive: true, force: true }))
      return closing
    },
  }
}

function defaultLog(line: string): void {
  if (/console\.(error|warning)|uncaught/.test(line)) process.stderr.write(`${line}\n`)
}
