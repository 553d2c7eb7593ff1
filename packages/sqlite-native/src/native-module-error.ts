import { installCommand, StorageError } from '@engram/core'

const NOT_BUILT =
  /Could not locate the bindings file|better_sqlite3\.node|Cannot find module .*better-sqlite3/i
const WRONG_NODE = /NODE_MODULE_VERSION|was compiled against a different Node\.js version/i

/**
 * Turns better-sqlite3's failure to load its compiled addon into an error that says what
 * happened and how to fix it, naming the package manager in use; `undefined` for other errors.
 */
export function nativeModuleError(error: unknown): StorageError | undefined {
  const message = error instanceof Error ? error.message : String(error)
  const agent = (process.env.npm_config_user_agent ?? '').split('/')[0]
  const rebuild = agent === 'pnpm' ? 'pnpm rebuild better-sqlite3' : 'npm rebuild better-sqlite3'
  if (WRONG_NODE.test(message)) {
    return new StorageError(
      'DRIVER_NOT_INSTALLED',
      `better-sqlite3's native module was built for another Node.js version than ${process.version}: run "${rebuild}".`,
      { cause: error },
    )
  }
  if (!NOT_BUILT.test(message)) return undefined
  const pnpm =
    agent === 'npm' || agent === 'yarn'
      ? ''
      : ' pnpm skips dependencies\' build scripts unless they are allowed: add "better-sqlite3" to "pnpm.onlyBuiltDependencies" in your package.json (or run "pnpm approve-builds"), then run "pnpm rebuild better-sqlite3".'
  return new StorageError(
    'DRIVER_NOT_INSTALLED',
    `better-sqlite3's native module was not built, so @engram/sqlite-native cannot open a database.${pnpm} With npm, run "npm rebuild better-sqlite3" (it needs python3, make and a C++ compiler). If you cannot build native modules, use @engram/sqljs instead: ${installCommand('@engram/sqljs')}.`,
    { cause: error },
  )
}
