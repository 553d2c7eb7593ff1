import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  createDatabase,
  type DatabaseOptions,
  type DriverChoice,
  type DriverDatabaseOptions,
  registerDriver,
  type StorageAdapter,
  StorageError,
} from '../src/index.js'

/** A plugin driver that records what it was asked to open and hands back a marker. */
function recordingDriver(type: string, seen: DatabaseOptions[]) {
  return {
    type,
    dialect: 'sqlite' as const,
    async open(options: DatabaseOptions) {
      seen.push(options)
      return { kind: type } as unknown as StorageAdapter
    },
  }
}

describe('createDatabase', () => {
  it('opens a registered plugin driver by its type and passes its options through', async () => {
    const seen: DatabaseOptions[] = []
    registerDriver(recordingDriver('plugin-x', seen))
    const db = await createDatabase({ type: 'plugin-x', filename: 'a.db', extra: 1 })
    expect(db.kind).toBe('plugin-x')
    expect(seen[0]).toMatchObject({ type: 'plugin-x', filename: 'a.db', extra: 1 })
  })

  it('always sends postgres:// and postgresql:// URLs to the postgres driver', async () => {
    const seen: DatabaseOptions[] = []
    registerDriver({ ...recordingDriver('postgres', seen), dialect: 'postgres' })
    await createDatabase('postgres://u@h/db')
    await createDatabase('postgresql://u@h/db')
    expect(seen.map((o) => [o.type, o.connectionString])).toEqual([
      ['postgres', 'postgres://u@h/db'],
      ['postgres', 'postgresql://u@h/db'],
    ])
  })

  it('reports a driver that is not installed with DRIVER_NOT_INSTALLED and the install command', async () => {
    vi.stubEnv('npm_config_user_agent', 'pnpm/10.34.9 npm/? node/v20.20.2 linux x64')
    const error = await createDatabase({ type: 'not-a-real-driver' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(StorageError)
    expect((error as StorageError).code).toBe('DRIVER_NOT_INSTALLED')
    expect((error as StorageError).message).toContain('pnpm add @engram/not-a-real-driver')
    vi.unstubAllEnvs()
  })

  it('lists every attempt and its reason when auto finds no usable SQLite driver', async () => {
    for (const type of ['sqlite-native', 'sqljs']) {
      registerDriver({
        type,
        dialect: 'sqlite',
        async open() {
          throw new StorageError('UNSUPPORTED', `${type} cannot run here`)
        },
      })
    }
    const error = (await createDatabase('./some/file.db').catch((e: unknown) => e)) as StorageError
    expect(error.code).toBe('DRIVER_NOT_INSTALLED')
    expect(error.message).toContain('sqlite-native: sqlite-native cannot run here')
    expect(error.message).toContain('sqljs: sqljs cannot run here')
  })

  it('maps file: URLs to a filename', async () => {
    const seen: DatabaseOptions[] = []
    registerDriver(recordingDriver('sqlite-native', seen))
    await createDatabase('file:///var/data/app.db')
    await createDatabase('file:relative.db')
    expect(seen.map((o) => o.filename)).toEqual(['/var/data/app.db', 'relative.db'])
  })

  it('does not fall back to another backend when the chosen one fails to open', async () => {
    registerDriver({
      type: 'sqlite-native',
      dialect: 'sqlite',
      async open() {
        throw new StorageError('CONNECTION_FAILED', 'disk on fire')
      },
    })
    const error = (await createDatabase({ filename: 'x.db' }).catch((e: unknown) => e)) as StorageError
    expect(error.code).toBe('CONNECTION_FAILED')
  })

  it('rejects undefined, null and non-object options with INVALID_ARGUMENT, naming an unset DATABASE_URL', async () => {
    for (const bad of [undefined, null, 42]) {
      const error = (await createDatabase(bad as unknown as string).catch((e: unknown) => e)) as StorageError
      expect(error).toBeInstanceOf(StorageError)
      expect(error.code).toBe('INVALID_ARGUMENT')
      expect(error.message).toMatch(/DATABASE_URL/)
    }
  })

  it('type-checks the options of drivers that declare them in DriverOptions', () => {
    // Compile-time checks: `pnpm typecheck` fails if a declared driver's options stop being checked.
    const declared = (options: DriverDatabaseOptions<'typed-test'>) => options
    declared({ type: 'typed-test', depth: 3 })
    // @ts-expect-error a misspelt option of a declared driver is an error
    declared({ type: 'typed-test', dept: 3 })
    // @ts-expect-error an option of the wrong type is an error
    declared({ type: 'typed-test', depth: 'deep' })
    // A plugin that declares nothing takes any options.
    const plugin = (options: DriverDatabaseOptions<'undeclared-test'>) => options
    expect(plugin({ type: 'undeclared-test', anything: 1 }).anything).toBe(1)
  })

  it('rejects unknown URL schemes and odd driver names', async () => {
    expect(((await createDatabase('mysql://h/db').catch((e: unknown) => e)) as StorageError).code).toBe(
      'UNSUPPORTED',
    )
    expect(
      ((await createDatabase({ type: '../../etc' }).catch((e: unknown) => e)) as StorageError).code,
    ).toBe('INVALID_ARGUMENT')
  })

  describe('onSelect', () => {
    afterEach(() => {
      vi.unstubAllGlobals()
    })

    /** A driver that cannot run here, as `indexeddb` is without IndexedDB. */
    const unsupported = (type: string) => ({
      type,
      dialect: 'sqlite' as const,
      async open(): Promise<StorageAdapter> {
        throw new StorageError('UNSUPPORTED', `${type} cannot run here`)
      },
    })

    it('reports the driver auto picked and why earlier candidates were skipped', async () => {
      const seen: DatabaseOptions[] = []
      registerDriver(unsupported('sqlite-native'))
      registerDriver(recordingDriver('sqljs', seen))
      const choices: DriverChoice[] = []
      const db = await createDatabase({ filename: 'x.db', onSelect: (choice) => choices.push(choice) })
      expect(db.kind).toBe('sqljs')
      expect(choices).toEqual([
        { type: 'sqljs', runtime: 'node', attempts: ['sqlite-native: sqlite-native cannot run here'] },
      ])
      // The callback is createDatabase's own option, never the driver's.
      expect(seen[0]).not.toHaveProperty('onSelect')
    })

    it('tries indexeddb, then sqljs, in a browser', async () => {
      vi.stubGlobal('window', {})
      registerDriver(unsupported('indexeddb'))
      registerDriver(recordingDriver('sqljs', []))
      let choice: DriverChoice | undefined
      await createDatabase({
        type: 'auto',
        onSelect: (picked) => {
          choice = picked
        },
      })
      expect(choice).toEqual({
        type: 'sqljs',
        runtime: 'browser',
        attempts: ['indexeddb: indexeddb cannot run here'],
      })
    })

    it('closes the adapter and rethrows when the callback throws', async () => {
      let closed = false
      registerDriver({
        type: 'plugin-closes',
        dialect: 'sqlite',
        async open() {
          return {
            kind: 'plugin-closes',
            close: async () => {
              closed = true
            },
          } as unknown as StorageAdapter
        },
      })
      const boom = new Error('no thanks')
      const error = await createDatabase({
        type: 'plugin-closes',
        onSelect: () => {
          throw boom
        },
      }).catch((e: unknown) => e)
      expect(error).toBe(boom)
      expect(closed).toBe(true)
    })

    it('rejects an onSelect that is not a function', async () => {
      const error = (await createDatabase({ type: 'plugin-x', onSelect: 1 as unknown as () => void }).catch(
        (e: unknown) => e,
      )) as StorageError
      expect(error.code).toBe('INVALID_ARGUMENT')
    })
  })
})

declare module '../src/index.js' {
  interface DriverOptions {
    /** A driver declared only for the type-level test above. */
    'typed-test': { depth?: number }
  }
}
