import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  bundle,
  type ChromiumSession,
  chromiumMissing,
  page as htmlPage,
  launchChromium,
  type Site,
  serve,
} from '@engram/browser-testkit'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EngramTestApi } from './page/app.js'

const missing = chromiumMissing()
const here = dirname(fileURLToPath(import.meta.url))
const wasm = join(dirname(createRequire(import.meta.url).resolve('sql.js')), 'sql-wasm.wasm')
let counter = 0

declare global {
  // The page's test API, as app.ts installs it.
  var engramTest: EngramTestApi
}

describe.skipIf(missing !== undefined)(
  `indexeddb in Chromium${missing === undefined ? '' : ` (skipped: ${missing})`}`,
  () => {
    let site: Site
    let browser: ChromiumSession

    beforeAll(async () => {
      const script = await bundle(join(here, 'page', 'app.ts'))
      site = await serve({
        routes: {
          '/': htmlPage('/app.js'),
          '/app.js': script,
          // sql.js's browser build asks for this name; it is the same file as sql-wasm.wasm.
          '/sql-wasm-browser.wasm': { file: wasm },
          '/sql-wasm.wasm': { file: wasm },
        },
      })
      browser = await launchChromium()
    })

    afterAll(async () => {
      await browser?.close()
      await site?.close()
    })

    /** A new tab on the test page, once its script has installed the test API. */
    async function tab(): Promise<Page> {
      const page = await browser.newPage(site.url)
      await ready(page)
      return page
    }

    async function ready(page: Page): Promise<void> {
      await page.waitForFunction(() => globalThis.engramTest !== undefined)
    }

    const range = (from: number, count: number, step = 1) =>
      Array.from({ length: count }, (_, i) => from + i * step)

    it('keeps committed writes across a page reload', async () => {
      const name = `reload-${++counter}`
      const page = await tab()
      await page.evaluate((n) => engramTest.open(n), name)
      await page.evaluate(([n, ids]) => engramTest.insert(n, ids, 'a'), [name, range(1, 5)] as const)
      await page.reload()
      await ready(page)
      await page.evaluate((n) => engramTest.open(n), name)
      expect(await page.evaluate((n) => engramTest.ids(n), name)).toEqual(range(1, 5))
      await page.close()
    })

    it('keeps every row when two tabs write at the same time', async () => {
      const name = `tabs-${++counter}`
      const [a, b] = await Promise.all([tab(), tab()])
      await Promise.all([a, b].map((page) => page.evaluate((n) => engramTest.open(n), name)))
      await Promise.all([
        a.evaluate(([n, ids]) => engramTest.insert(n, ids, 'a'), [name, range(0, 40, 2)] as const),
        b.evaluate(([n, ids]) => engramTest.insert(n, ids, 'b'), [name, range(1, 40, 2)] as const),
      ])
      const all = range(0, 80)
      // Each tab sees the other's rows once its broadcast has arrived.
      for (const page of [a, b]) {
        await expect.poll(() => page.evaluate((n) => engramTest.ids(n), name)).toEqual(all)
      }
      const fresh = await tab()
      await fresh.evaluate((n) => engramTest.open(n), name)
      expect(await fresh.evaluate((n) => engramTest.ids(n), name)).toEqual(all)
      await Promise.all([a.close(), b.close(), fresh.close()])
    })

    it('saves relaxed writes when the page is reloaded', async () => {
      const name = `relaxed-reload-${++counter}`
      const page = await tab()
      // A delay no test waits for: only pagehide can have saved the rows.
      await page.evaluate((n) => engramTest.open(n, 'relaxed', 600_000), name)
      await page.evaluate(([n, ids]) => engramTest.insert(n, ids, 'a'), [name, range(1, 10)] as const)
      await page.reload()
      await ready(page)
      await page.evaluate((n) => engramTest.open(n), name)
      expect(await page.evaluate((n) => engramTest.ids(n), name)).toEqual(range(1, 10))
      await page.close()
    })

    it('saves relaxed writes when the tab is closed', async () => {
      const name = `relaxed-close-${++counter}`
      const page = await tab()
      await page.evaluate((n) => engramTest.open(n, 'relaxed', 600_000), name)
      await page.evaluate(([n, ids]) => engramTest.insert(n, ids, 'a'), [name, range(1, 10)] as const)
      await page.close({ runBeforeUnload: true })
      const next = await tab()
      await next.evaluate((n) => engramTest.open(n), name)
      await expect.poll(() => next.evaluate((n) => engramTest.ids(n), name)).toEqual(range(1, 10))
      await next.close()
    })

    it('createDatabase({ type: "auto" }) picks indexeddb and says so', async () => {
      const page = await tab()
      const picked = await page.evaluate((n) => engramTest.auto(n), `auto-${++counter}`)
      expect(picked).toEqual({
        kind: 'indexeddb',
        choice: { type: 'indexeddb', runtime: 'browser', attempts: [] },
      })
      await page.close()
    })

    it('createDatabase({ type: "auto" }) falls back to sqljs without IndexedDB and says why', async () => {
      const page = await tab()
      const picked = await page.evaluate((n) => engramTest.auto(n, true), `auto-${++counter}`)
      expect(picked.kind).toBe('sqljs')
      expect(picked.choice?.type).toBe('sqljs')
      expect(picked.choice?.attempts).toEqual([
        expect.stringMatching(/^indexeddb: IndexedDB is not available/),
      ])
      await page.close()
    })
  },
)
