import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  cleanEnv,
  packageOfUrl,
  readLoads,
  runCommand,
  STILL_RUNNING_EXIT,
  writeHarness,
} from '../src/index.js'

const dir = mkdtempSync(join(tmpdir(), 'install-check-harness-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const harness = writeHarness(dir)
// A package in a node_modules folder the harness's hook will see being resolved.
mkdirSync(join(dir, 'node_modules', '@demo', 'greet'), { recursive: true })
writeFileSync(
  join(dir, 'node_modules', '@demo', 'greet', 'package.json'),
  JSON.stringify({ name: '@demo/greet', version: '1.0.0', type: 'module', exports: './index.js' }),
)
writeFileSync(join(dir, 'node_modules', '@demo', 'greet', 'index.js'), "export const greet = () => 'hello'\n")

async function runScript(name: string, code: string) {
  const file = join(dir, `${name}.mjs`)
  writeFileSync(file, code)
  const loads = join(dir, `${name}.loads`)
  const result = await runCommand(process.execPath, ['--import', harness.register, harness.run, file], {
    cwd: dir,
    env: cleanEnv('/nonexistent-repo', { ENGRAM_CHECK_LOADS: loads, ENGRAM_CHECK_EXIT_MS: '300' }),
    timeoutMs: 60_000,
  })
  return { result, loads: readLoads(loads) }
}

describe('the snippet run harness', () => {
  it('runs a snippet to the end and records the packages it loaded', async () => {
    const { result, loads } = await runScript(
      'clean',
      "import { greet } from '@demo/greet'\nconsole.log(greet())\n",
    )
    expect(result.code).toBe(0)
    expect(result.stdout.trim()).toBe('hello')
    expect(loads).toEqual([{ pkg: '@demo/greet' }])
  })

  it('fails a snippet that leaves something running after it finished, naming what', async () => {
    const { result } = await runScript('leaky', "setInterval(() => {}, 1000)\nconsole.log('done')\n")
    expect(result.code).toBe(STILL_RUNNING_EXIT)
    expect(result.stderr).toMatch(/still running 300 ms later, held open by: Timeout/)
  })

  it('passes on the exit code and error of a snippet that throws', async () => {
    const { result } = await runScript('throws', "throw new Error('no such table: notes')\n")
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/no such table: notes/)
  })
})

describe('packageOfUrl', () => {
  it('names the package after the last node_modules folder, scoped or not', () => {
    expect(packageOfUrl('file:///app/node_modules/@engram/core/dist/index.js')).toBe('@engram/core')
    expect(packageOfUrl('file:///app/node_modules/a/node_modules/pg/lib/index.js')).toBe('pg')
    expect(packageOfUrl('file:///app/out/root-1.js')).toBeUndefined()
  })
})

describe('cleanEnv', () => {
  it('keeps the machine basics and drops the package manager and test runner variables', () => {
    const saved = { ...process.env }
    process.env.npm_config_user_agent = 'pnpm/10.34.9 npm/? node/v20.20.2 linux x64'
    process.env.PATH = `/repo/node_modules/.bin:/usr/bin:/repo/packages/x/node_modules/.bin:/bin`
    try {
      const env = cleanEnv('/repo', { DATABASE_URL: 'postgres://x' })
      expect(env.npm_config_user_agent).toBeUndefined()
      expect(env.VITEST).toBeUndefined()
      expect(env.PATH).toBe('/usr/bin:/bin')
      expect(env.DATABASE_URL).toBe('postgres://x')
    } finally {
      process.env = saved
    }
  })
})
