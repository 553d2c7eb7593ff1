import { hash } from 'node:crypto'

const MASK = (1n << 128n) - 1n

/**
 * The canonical text of one value, the same whichever dialect it was read from: booleans are
 * the integers 1 and 0 (SQLite stores them so), every integral number is its exact decimal
 * digits whether it arrived as a `number` or a `bigint`, blobs are base64, and with `json` a
 * string holding JSON is re-serialised with sorted keys (Postgres JSONB reorders keys and
 * drops whitespace).
 */
export function canonicalValue(value: unknown, json = false): string {
  // SQLite stores JSON text that looks like a number as a number; JSONB gives it back as text.
  if (json && (typeof value === 'number' || typeof value === 'bigint')) return `j${value}`
  switch (typeof value) {
    case 'string':
      return json ? canonicalJsonText(value) : `s${value}`
    case 'boolean':
      return value ? 'i1' : 'i0'
    case 'bigint':
      return `i${value}`
    case 'number':
      if (Number.isInteger(value)) return `i${Number.isSafeInteger(value) ? value : BigInt(value)}`
      return `r${value}`
    case 'object':
      if (value === null) return 'n'
      if (value instanceof Uint8Array)
        return `b${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')}`
      if (Array.isArray(value)) return `a${JSON.stringify(value.map((item) => canonicalValue(item)))}`
      break
  }
  return `?${String(value)}`
}

function canonicalJsonText(text: string): string {
  try {
    return `j${stableJson(JSON.parse(text))}`
  } catch {
    return `s${text}`
  }
}

/** JSON with object keys sorted, so two encodings of the same document compare equal. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort()
    const record = value as Record<string, unknown>
    return `{${keys.map((key) => `${JSON.stringify(key)}:${stableJson(record[key])}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

/**
 * An order-independent checksum of a table's rows: the sum, modulo 2^128, of the first 128 bits
 * of each row's SHA-256 over its canonical encoding. Two tables with the same rows in any
 * order sum to the same value; a missing, extra, duplicated or changed row changes it.
 */
export class TableChecksum {
  #sum = 0n
  #rows = 0

  /** Adds one row; `json[i]` says whether column `i` holds JSON. */
  add(values: readonly unknown[], json?: readonly boolean[]): void {
    const parts = new Array<string>(values.length)
    for (let i = 0; i < values.length; i++) parts[i] = canonicalValue(values[i], json?.[i] === true)
    const digest = hash('sha256', JSON.stringify(parts), 'hex')
    this.#sum = (this.#sum + BigInt(`0x${digest.slice(0, 32)}`)) & MASK
    this.#rows++
  }

  /** Rows added so far. */
  get rows(): number {
    return this.#rows
  }

  /** The checksum as 32 hexadecimal digits. */
  get hex(): string {
    return this.#sum.toString(16).padStart(32, '0')
  }
}
