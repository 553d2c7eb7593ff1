import { describe, expect, it } from 'vitest'
import { type CommandResult, runFailure, snippetTitle, snippetVerdict } from '../src/index.js'

const block = { readme: 'packages/memory/README.md', index: 2, line: 38 }
const ran = (result: Partial<CommandResult>): CommandResult => ({
  code: 0,
  stdout: '',
  stderr: '',
  timedOut: false,
  ms: 10,
  ...result,
})

describe('snippetVerdict', () => {
  it('holds its compile and run failures and its install problems against a block that must run', () => {
    expect(
      snippetVerdict({ ...block, mode: 'run' }, ['fails when run: exited with 1'], ['imports pg, …']),
    ).toEqual(['imports pg, …', 'fails when run: exited with 1'])
    expect(snippetVerdict({ ...block, mode: 'compile-only', reason: 'needs a phone' }, [], [])).toEqual([])
  })

  it('accepts a block marked expected-to-fail while it fails, and reports it once it works', () => {
    const marked = { ...block, mode: 'expected-to-fail' as const, reason: 'Memory.open takes no URL yet' }
    expect(snippetVerdict(marked, ['does not compile: README line 40: TS2322'], [])).toEqual([])
    expect(snippetVerdict(marked, [], [])).toEqual([
      'packages/memory/README.md block 2 (line 38) is marked expected-to-fail (Memory.open takes no URL yet), but now compiles and runs: remove its <!-- check: expected-to-fail --> comment',
    ])
    expect(
      snippetVerdict(marked, ['fails when run: exited with 1'], ['has no install line above it']),
    ).toEqual(['has no install line above it'])
  })

  it('names each test by what the block must do', () => {
    expect(snippetTitle({ ...block, mode: 'run' })).toBe(
      'packages/memory/README.md block 2 (line 38) compiles and runs',
    )
    expect(snippetTitle({ ...block, mode: 'compile-only', reason: 'needs a phone' })).toBe(
      'packages/memory/README.md block 2 (line 38) compiles (not run: needs a phone)',
    )
  })
})

describe('runFailure', () => {
  it('says nothing of a clean run and describes exits, hangs and timeouts', () => {
    expect(runFailure(ran({}))).toBeUndefined()
    expect(runFailure(ran({ code: 1, stderr: 'StorageError: no such table: notes\n    at x' }))).toBe(
      'exited with 1:\nStorageError: no such table: notes\n    at x',
    )
    expect(
      runFailure(
        ran({ code: 70, stderr: 'warning\nheld open by: TCPWRAP. Something it opened was never closed.' }),
      ),
    ).toBe('held open by: TCPWRAP. Something it opened was never closed.')
    expect(runFailure(ran({ code: null, timedOut: true, ms: 120_000 }))).toMatch(
      /^did not finish within 120000 ms/,
    )
  })
})
