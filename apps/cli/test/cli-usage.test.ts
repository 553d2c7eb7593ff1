import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { COMMANDS, ProgressBar, runCli } from '../src/index.js'
import { engram, jsonOf } from './cli-env.js'

describe('engram usage', () => {
  it('lists every command with --help and exits 0', async () => {
    const run = await engram(['--help'])
    expect(run.code).toBe(0)
    for (const name of ['migrate', 'export', 'import', 'verify', 'stats', 'backup', 'doctor'])
      expect(run.stdout).toMatch(new RegExp(`\\n  ${name} `))
  })

  it('prints a command’s own options with <command> --help', async () => {
    const run = await engram(['migrate', '--help'])
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('usage: engram migrate <from> <to>')
    expect(run.stdout).toContain('--dry-run')
    expect(run.stdout).toContain('--resume')
  })

  it('exits 2 with the usage for an unknown command, a wrong argument count and an unknown option', async () => {
    const unknown = await engram(['frobnicate'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('unknown command "frobnicate"')
    const missing = await engram(['migrate', 'only-one.db'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('migrate takes 2 arguments, got 1')
    expect(missing.stderr).toContain('usage: engram migrate')
    const option = await engram(['stats', 'x.db', '--frob'])
    expect(option.code).toBe(2)
    expect(option.stderr).toContain("Unknown option '--frob'")
  })

  it('exits 2 for option values it cannot use, before touching anything', async () => {
    const run = await engram(['migrate', 'a.db', 'b.db', '--batch-size', 'lots'])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('--batch-size takes a positive whole number, got "lots"')
    const policy = await engram(['import', 'a.db', 'b.jsonl', '--on-conflict', 'merge'])
    expect(policy.code).toBe(2)
  })

  it('prints one JSON error document with --json, for usage errors and failures alike', async () => {
    const usage = await engram(['migrate', 'a.db', '--json'])
    expect(usage.code).toBe(2)
    expect(jsonOf(usage)).toEqual({
      ok: false,
      error: { code: 'USAGE', message: 'migrate takes 2 arguments, got 1' },
    })
    const failure = await engram(['stats', '/nonexistent/engram.db', '--json'])
    expect(failure.code).toBe(1)
    expect(jsonOf(failure)).toEqual({
      ok: false,
      error: { code: 'NOT_FOUND', message: 'There is no database at /nonexistent/engram.db; check the path' },
    })
  })

  it('runs in-process with its own streams, and lists its commands for others to extend', async () => {
    const stdout = new PassThrough()
    let text = ''
    stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString()
    })
    const code = await runCli(['--version'], {
      io: { stdout, stderr: new PassThrough(), stdin: new PassThrough() },
    })
    expect(code).toBe(0)
    expect(text).toMatch(/^\d+\.\d+\.\d+\n$/)
    expect(COMMANDS.map((c) => c.name)).toEqual([
      'migrate',
      'export',
      'import',
      'verify',
      'stats',
      'backup',
      'doctor',
    ])
  })
})

describe('ProgressBar', () => {
  const capture = (isTTY: boolean) => {
    const lines: string[] = []
    return { lines, stream: { isTTY, write: (text: string) => lines.push(text) } }
  }

  it('prints a plain line per quarter, with the rate at the end, when output is not a terminal', () => {
    const { lines, stream } = capture(false)
    const bar = new ProgressBar('turns', { stream })
    for (let done = 0; done <= 1000; done += 50) bar.update(done, 1000)
    expect(lines.map((l) => l.replace(/\(.*\)/, '(…)'))).toEqual([
      '  turns: 0/1,000\n',
      '  turns: 250/1,000\n',
      '  turns: 500/1,000\n',
      '  turns: 750/1,000\n',
      '  turns: 1,000/1,000 (…)\n',
    ])
    expect(lines.at(-1)).toMatch(/\(\d+(\.\d+)? (ms|s), [\d,]+\/s\)\n$/)
  })

  it('redraws one line with the rate and the time left on a terminal', () => {
    const { lines, stream } = capture(true)
    let now = 0
    const bar = new ProgressBar('turns', { stream, clock: () => now })
    bar.update(0, 4000)
    now = 1000
    bar.update(1000, 4000)
    now = 1010
    bar.update(1001, 4000)
    now = 4000
    bar.update(4000, 4000)
    expect(lines).toEqual([
      `\r  turns ${'░'.repeat(28)} 0/4,000  0/s\u001b[K`,
      `\r  turns ${'█'.repeat(7)}${'░'.repeat(21)} 1,000/4,000  1,000/s  ETA 3s\u001b[K`,
      `\r  turns ${'█'.repeat(28)} 4,000/4,000  1,000/s\u001b[K`,
      '  (4.00 s)\n',
    ])
  })
})
