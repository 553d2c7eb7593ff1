import { afterEach, describe, expect, it, vi } from 'vitest'
import { nativeModuleError } from '../src/native-module-error.js'

// The message better-sqlite3 (through the `bindings` package) throws when its addon was never compiled.
const MISSING = new Error(
  'Could not locate the bindings file. Tried:\n → /app/node_modules/better-sqlite3/build/better_sqlite3.node\n → /app/node_modules/better-sqlite3/build/Debug/better_sqlite3.node',
)

describe('nativeModuleError', () => {
  afterEach(() => {
    vi.unstubAllEnvs()
  })

  it('says the native module was not built and how to allow the build under pnpm', () => {
    vi.stubEnv('npm_config_user_agent', 'pnpm/10.34.9 npm/? node/v20.20.2 linux x64')
    const error = nativeModuleError(MISSING)
    expect(error?.code).toBe('DRIVER_NOT_INSTALLED')
    expect(error?.message).toMatch(/native module was not built/)
    expect(error?.message).toMatch(/onlyBuiltDependencies/)
    expect(error?.message).toMatch(/pnpm approve-builds/)
    expect(error?.message).toMatch(/pnpm add @engram\/sqljs/)
    expect(error?.cause).toBe(MISSING)
  })

  it('speaks npm to npm users, without the pnpm advice', () => {
    vi.stubEnv('npm_config_user_agent', 'npm/11.6.2 node/v20.20.2 linux x64 workspaces/false')
    const error = nativeModuleError(MISSING)
    expect(error?.message).toMatch(/npm rebuild better-sqlite3/)
    expect(error?.message).not.toMatch(/onlyBuiltDependencies/)
    expect(error?.message).toMatch(/npm install @engram\/sqljs/)
  })

  it('names a module built for another Node.js version', () => {
    const error = nativeModuleError(
      new Error('The module was compiled against a different Node.js version using NODE_MODULE_VERSION 127.'),
    )
    expect(error?.message).toMatch(/another Node\.js version/)
  })

  it('leaves other errors alone', () => {
    expect(nativeModuleError(new Error('unable to open database file'))).toBeUndefined()
  })
})
