import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  type ChromiumSession,
  chromiumMissing,
  launchChromium,
  type Site,
  serve,
} from '@engram/browser-testkit'
import type { Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ensureBuilt } from './ensure-built.js'

const missing = chromiumMissing()
const appDir = join(dirname(fileURLToPath(import.meta.url)), '..')

const BICYCLE = 'I keep my red bicycle in the garage next to the lawnmower'
const LISBON = 'My sister lives in Lisbon and cooks grilled sardines every summer'
const TOMATOES = 'Remind me to water the tomatoes on Friday'
const BICYCLE_AGAIN = 'The bicycle needs new brake pads'
const GROCERIES = 'Buy oat milk, lemons and rye bread'

describe.skipIf(missing !== undefined)(
  `the playground page in Chromium${missing === undefined ? '' : ` (skipped: ${missing})`}`,
  () => {
    let site: Site
    let browser: ChromiumSession
    let page: Page
    let second: Page
    const errors: string[] = []

    beforeAll(async () => {
      await ensureBuilt(appDir)
      site = await serve({ root: join(appDir, 'dist') })
      // One fresh profile for the whole story below: its IndexedDB starts empty and outlives reloads.
      browser = await launchChromium({
        log: (line) => {
          if (/console\.error|uncaught/.test(line)) errors.push(line)
        },
      })
      page = await open()
    })

    afterAll(async () => {
      await browser?.close()
      await site?.close()
    })

    // Console errors and uncaught exceptions fail the step they happened in.
    afterEach(() => {
      expect(errors.splice(0)).toEqual([])
    })

    /** Opens the page in a new tab and waits until it has opened the database (or failed to). */
    async function open(search = ''): Promise<Page> {
      const page = await browser.newPage(`${site.url}/${search}`)
      await ready(page)
      return page
    }

    async function ready(page: Page): Promise<void> {
      const status = page.getByRole('status', { name: 'Status' })
      await status.filter({ hasNotText: /^Opening/ }).waitFor()
      expect(await status.textContent()).toMatch(/^Ready/)
    }

    async function send(page: Page, text: string): Promise<void> {
      await page.getByLabel('Message', { exact: true }).fill(text)
      await page.getByRole('button', { name: 'Send' }).click()
      await turns(page).getByText(text).waitFor()
    }

    async function recall(page: Page, query: string): Promise<string[]> {
      const form = page.getByRole('form', { name: 'Recall memories' })
      await page.getByLabel('Query', { exact: true }).fill(query)
      await page.getByRole('button', { name: 'Recall' }).click()
      // The submit handler marks the form busy before the click returns; it is clear again once the results are in.
      await form.and(page.locator('[aria-busy="false"]')).waitFor()
      expect(await page.getByRole('status', { name: 'Recall timing' }).textContent()).toMatch(
        /^\d+ results? in \d+\.\d ms, hybrid/,
      )
      return page
        .getByRole('list', { name: 'Recall results' })
        .getByRole('listitem')
        .locator('.text')
        .allTextContents()
    }

    function turns(page: Page) {
      return page.getByRole('list', { name: 'Turns' })
    }

    async function turnTexts(page: Page): Promise<string[]> {
      return turns(page).getByRole('listitem').locator('.content').allTextContents()
    }

    async function conversationTitles(page: Page): Promise<string[]> {
      return page.getByRole('navigation', { name: 'Conversations' }).getByRole('listitem').allTextContents()
    }

    // The steps build on each other, like a user's session: each one starts where the last stopped.
    it('shows that it runs on IndexedDB with per-commit durability by default', async () => {
      expect(await page.getByRole('status', { name: 'Storage' }).textContent()).toMatch(/^indexeddb/)
      expect(await page.getByRole('status', { name: 'Durability' }).textContent()).toMatch(/^commit:/)
      expect(await page.getByRole('status', { name: 'Memories' }).textContent()).toBe('0')
    })

    it('stores sent messages as turns of one conversation and lists them', async () => {
      await send(page, BICYCLE)
      await send(page, LISBON)
      expect(await turnTexts(page)).toEqual([BICYCLE, LISBON])
      expect(await conversationTitles(page)).toEqual([`${BICYCLE.slice(0, 39)}…`])
      expect(await page.getByRole('status', { name: 'Memories' }).textContent()).toBe('2')
    })

    it('recalls the relevant message first, with scores and timings', async () => {
      expect((await recall(page, 'where is my bicycle?'))[0]).toBe(BICYCLE)
      expect((await recall(page, 'sardines in Lisbon'))[0]).toBe(LISBON)
      const scores = await page
        .getByRole('list', { name: 'Recall results' })
        .locator('.score')
        .allTextContents()
      expect(scores[0]).toMatch(/^score \d\.\d{4}$/)
    })

    it('keeps conversations and memories across a reload', async () => {
      await page.reload()
      await ready(page)
      expect(await turnTexts(page)).toEqual([BICYCLE, LISBON])
      expect(await page.getByRole('status', { name: 'Memories' }).textContent()).toBe('2')
      expect((await recall(page, 'bicycle garage'))[0]).toBe(BICYCLE)
    })

    it('shows a second tab what the first one wrote', async () => {
      second = await open()
      expect(await turnTexts(second)).toEqual([BICYCLE, LISBON])
      expect((await recall(second, 'Lisbon sister'))[0]).toBe(LISBON)
    })

    it("keeps both tabs' writes when they take turns writing", async () => {
      await send(second, TOMATOES)
      // The first tab's copy is now behind; its next write must build on the second tab's, not replace it.
      // Brought to the front as a user would: Chromium throttles the timers of background tabs.
      await page.bringToFront()
      await send(page, BICYCLE_AGAIN)
      expect(await turnTexts(page)).toEqual([BICYCLE, LISBON, TOMATOES, BICYCLE_AGAIN])
      expect((await recall(page, 'water the tomatoes'))[0]).toBe(TOMATOES)
      await second.reload()
      await ready(second)
      expect(await turnTexts(second)).toEqual([BICYCLE, LISBON, TOMATOES, BICYCLE_AGAIN])
      await second.close()
    })

    it('keeps separate conversations apart', async () => {
      await page.getByRole('button', { name: 'New conversation' }).click()
      await turns(page).getByRole('listitem').first().waitFor({ state: 'detached' })
      await send(page, GROCERIES)
      expect(await turnTexts(page)).toEqual([GROCERIES])
      expect(await conversationTitles(page)).toEqual([GROCERIES, `${BICYCLE.slice(0, 39)}…`])
      await page.getByRole('button', { name: BICYCLE.slice(0, 39) }).click()
      await turns(page).getByRole('listitem').nth(3).waitFor()
      expect(await turnTexts(page)).toEqual([BICYCLE, LISBON, TOMATOES, BICYCLE_AGAIN])
      expect(await page.getByRole('status', { name: 'Memories' }).textContent()).toBe('5')
    })

    it('opens the same data with relaxed durability when the address asks for it', async () => {
      const relaxed = await open('?durability=relaxed')
      expect(await relaxed.getByRole('status', { name: 'Durability' }).textContent()).toMatch(/^relaxed:/)
      expect(await relaxed.getByRole('status', { name: 'Memories' }).textContent()).toBe('5')
      expect((await recall(relaxed, 'oat milk and lemons'))[0]).toBe(GROCERIES)
      await relaxed.close()
    })
  },
)
