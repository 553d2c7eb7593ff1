import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { chromiumMissing, page, serve } from '../src/index.js'

// outer/site is served; outer/secret.txt sits right beside it and must stay out of reach.
const outer = mkdtempSync(join(tmpdir(), 'engram-testkit-'))
const folder = join(outer, 'site')
mkdirSync(folder)
writeFileSync(join(outer, 'secret.txt'), 'secret')
writeFileSync(join(folder, 'index.html'), '<p>from disk</p>')
writeFileSync(join(folder, 'module.wasm'), new Uint8Array([0, 97, 115, 109]))
afterAll(() => rmSync(outer, { recursive: true, force: true }))

describe('serve', () => {
  it('answers routes first, then files under root, with the right content types', async () => {
    const site = await serve({ root: folder, routes: { '/app.js': 'export {}' } })
    try {
      expect(site.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      const index = await fetch(`${site.url}/`)
      expect(await index.text()).toBe('<p>from disk</p>')
      expect(index.headers.get('content-type')).toContain('text/html')
      const script = await fetch(`${site.url}/app.js`)
      expect(script.headers.get('content-type')).toContain('text/javascript')
      const wasm = await fetch(`${site.url}/module.wasm`)
      expect(wasm.headers.get('content-type')).toBe('application/wasm')
      expect(new Uint8Array(await wasm.arrayBuffer())).toEqual(new Uint8Array([0, 97, 115, 109]))
    } finally {
      await site.close()
    }
  })

  it('never serves a file outside root', async () => {
    const site = await serve({ root: folder })
    try {
      // fetch() resolves plain ../ itself; encoded slashes reach the server as they are.
      for (const path of ['/..%2fsecret.txt', '/..%2f..%2f..%2fetc%2fpasswd', '/missing.js']) {
        expect((await fetch(`${site.url}${path}`)).status).toBe(404)
      }
    } finally {
      await site.close()
    }
  })

  it('serves a route as the index page and answers favicon requests quietly', async () => {
    const site = await serve({ routes: { '/': page('/app.js') } })
    try {
      expect(await (await fetch(site.url)).text()).toContain('<script type="module" src="/app.js">')
      expect((await fetch(`${site.url}/favicon.ico`)).status).toBe(204)
    } finally {
      await site.close()
    }
  })
})

describe('chromiumMissing', () => {
  it('explains how to install a missing browser', () => {
    expect(chromiumMissing('/nonexistent/chromium')).toContain('apt-get install -y chromium')
  })
})
