type NodeFs = typeof import('node:fs/promises')
type NodePath = typeof import('node:path')

const TEMP_MARK = '.engram-'
const TEMP_PATTERN = /\.engram-\d+-\d+\.tmp$/

/**
 * One database file on Node: read once at open, then replaced whole and atomically on every
 * save (write a temporary file in the same folder, fsync it, rename it over the database,
 * fsync the folder), so a crash at any moment leaves either the previous image or the new one.
 */
export class NodeFileStore {
  /** The database file's absolute path. */
  readonly path: string
  readonly #fs: NodeFs
  readonly #folder: string
  readonly #base: string
  readonly #join: NodePath['join']
  #mode: number | undefined
  #sequence = 0

  private constructor(fs: NodeFs, path: NodePath, filename: string) {
    this.#fs = fs
    this.path = path.resolve(filename)
    this.#folder = path.dirname(this.path)
    this.#base = path.basename(this.path)
    this.#join = path.join
  }

  /** Prepares `filename`'s folder (created when missing) and removes temporary files a killed writer left. */
  static async open(filename: string): Promise<NodeFileStore> {
    // Loaded only here, so bundling this package for a browser never pulls in Node's modules.
    const [fs, path] = await Promise.all([
      importNode<NodeFs>('node:fs/promises'),
      importNode<NodePath>('node:path'),
    ])
    const store = new NodeFileStore(fs, path, filename)
    await fs.mkdir(store.#folder, { recursive: true })
    await store.#removeLeftovers()
    return store
  }

  /** The file's bytes, or `undefined` when it does not exist yet. */
  async read(): Promise<Uint8Array | undefined> {
    try {
      const bytes = await this.#fs.readFile(this.path)
      this.#mode = (await this.#fs.stat(this.path)).mode & 0o777
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ENOENT') return undefined
      throw error
    }
  }

  /** Replaces the file with `image` atomically and durably. */
  async write(image: Uint8Array): Promise<void> {
    const fs = this.#fs
    const pid = (globalThis as { process?: { pid?: number } }).process?.pid ?? 0
    const temp = `${this.path}${TEMP_MARK}${pid}-${++this.#sequence}.tmp`
    let handle: Awaited<ReturnType<NodeFs['open']>> | undefined
    try {
      handle = await fs.open(temp, 'w')
      // Keep the permissions the file had, rather than the umask's default for a new file.
      if (this.#mode !== undefined) await handle.chmod(this.#mode)
      await handle.writeFile(image)
      await handle.sync()
      await handle.close()
      handle = undefined
      await fs.rename(temp, this.path)
    } catch (error) {
      await handle?.close().catch(() => undefined)
      await fs.rm(temp, { force: true }).catch(() => undefined)
      throw error
    }
    await this.#syncFolder()
  }

  /** Makes the rename itself durable. Folders cannot be opened on Windows, where NTFS journals renames anyway. */
  async #syncFolder(): Promise<void> {
    let folder: Awaited<ReturnType<NodeFs['open']>> | undefined
    try {
      folder = await this.#fs.open(this.#folder, 'r')
      await folder.sync()
    } catch {
      // Best effort: the new image is already complete in the file.
    } finally {
      await folder?.close().catch(() => undefined)
    }
  }

  async #removeLeftovers(): Promise<void> {
    const names = await this.#fs.readdir(this.#folder).catch(() => [] as string[])
    const prefix = `${this.#base}${TEMP_MARK}`
    for (const name of names) {
      if (name.startsWith(prefix) && TEMP_PATTERN.test(name)) {
        await this.#fs.rm(this.#join(this.#folder, name), { force: true }).catch(() => undefined)
      }
    }
  }
}

/** A dynamic import bundlers leave alone, for Node built-ins this package only needs on Node. */
function importNode<T>(specifier: string): Promise<T> {
  return import(/* @vite-ignore */ specifier) as Promise<T>
}
