import type { BackupDestination, ObjectMetadata, TransferProgress } from '../../src/index.js'

/**
 * A destination that stores through a real one but holds data uploads at a gate the test opens,
 * counts how many uploads were in flight at once, and can fail the next uploads on purpose.
 */
export class GatedDestination implements BackupDestination {
  readonly description: string
  /** The most data uploads that were in progress at the same time. */
  maxInFlight = 0
  /** Data uploads started. */
  uploads = 0
  #inFlight = 0
  #gate: Promise<void> | undefined
  #open: (() => void) | undefined
  #failures: Array<{ manifest: boolean; error: Error }> = []

  constructor(readonly inner: BackupDestination) {
    this.description = `gated ${inner.description}`
  }

  /** Holds every data upload from now on until `release()`. */
  hold(): void {
    this.#gate = new Promise((resolve) => {
      this.#open = resolve
    })
  }

  /** Lets held uploads (and later ones) through. */
  release(): void {
    this.#open?.()
    this.#gate = undefined
  }

  /** Makes the next upload of a data object (or, with `manifest`, of a manifest) fail with `error`. */
  failNext(error: Error, manifest = false): void {
    this.#failures.push({ manifest, error })
  }

  async put(
    name: string,
    source: string | Uint8Array,
    metadata: ObjectMetadata,
    onProgress?: TransferProgress,
  ) {
    const manifest = name.endsWith('.manifest.json')
    const failure = this.#failures.findIndex((f) => f.manifest === manifest)
    if (failure >= 0) throw this.#failures.splice(failure, 1)[0]!.error
    if (manifest) return this.inner.put(name, source, metadata, onProgress)
    this.uploads++
    this.#inFlight++
    this.maxInFlight = Math.max(this.maxInFlight, this.#inFlight)
    try {
      await this.#gate
      await this.inner.put(name, source, metadata, onProgress)
    } finally {
      this.#inFlight--
    }
  }

  get(name: string) {
    return this.inner.get(name)
  }

  read(name: string) {
    return this.inner.read(name)
  }

  list() {
    return this.inner.list()
  }

  delete(names: readonly string[]) {
    return this.inner.delete(names)
  }
}
