import { hash } from 'node:crypto'

/** 2^32, the base of the checksum's four limbs. */
const LIMB = 2 ** 32

/**
 * The canonical text of one value, the same whichever dialect it was read from: booleans are
 * the integers 1 and 0 (SQLite stores them so), every integral number is its exact decimal
 * digits whether it arrived as a `number` or a `bigint`, blobs are base64, and with `json` a
 * string holding JSON is re-serialised with sorted keys (Postgres JSONB reorders keys and
 * drops whitespace). Each part says where it ends (a length, or `;`), so a row's parts can be
 * joined without ambiguity.
 */
export function canonicalValue(value: unknown, json = false): string {
  // SQLite stores JSON text that looks like a number as a number; JSONB gives it back as text.
  if (json && (typeof value === 'number' || typeof value === 'bigint')) {
    const text = typeof value === 'bigint' ? String(value) : stableJson(value)
    return `j${text.length}:${text}`
  }
  switch (typeof value) {
    case 'string': {
      if (!json) return `s${value.length}:${value}`
      const text = canonicalJsonText(value)
      return `${text === undefined ? 's' : 'j'}${(text ?? value).length}:${text ?? value}`
    }
    case 'boolean':
      return value ? 'i1;' : 'i0;'
    case 'bigint':
      return `i${value};`
    case 'number':
      if (Number.isInteger(value)) return `i${Number.isSafeInteger(value) ? value : BigInt(value)};`
      return `r${value};`
    case 'object': {
      if (value === null) return 'n'
      if (value instanceof Uint8Array) {
        const text = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')
        return `b${text.length}:${text}`
      }
      if (Array.isArray(value)) {
        const text = value.map((item) => canonicalValue(item)).join('')
        return `a${text.length}:${text}`
      }
      break
    }
  }
  return `?${String(value)};`
}

/** The document re-serialised with sorted keys, or `undefined` when the text is not JSON. */
function canonicalJsonText(text: string): string | undefined {
  try {
    return stableJson(JSON.parse(text))
  } catch {
    return undefined
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
  // The 128-bit sum as four 32-bit limbs, most significant first: no BigInt per row.
  readonly #limbs = [0, 0, 0, 0]
  #rows = 0

  /** Adds one row; `json[i]` says whether column `i` holds JSON. */
  add(values: readonly unknown[], json?: readonly boolean[]): void {
    let text = ''
    for (let i = 0; i < values.length; i++) text += canonicalValue(values[i], json?.[i] === true)
    // 'binary' (latin1): one character per digest byte, so no Buffer and no hex parsing per row.
    const digest = hash('sha256', text, 'binary')
    const limbs = this.#limbs
    let carry = 0
    for (let i = 3; i >= 0; i--) {
      const at = i * 4
      const word =
        digest.charCodeAt(at) * 0x1000000 +
        ((digest.charCodeAt(at + 1) << 16) | (digest.charCodeAt(at + 2) << 8) | digest.charCodeAt(at + 3))
      const total = (limbs[i] as number) + word + carry
      carry = total >= LIMB ? 1 : 0
      limbs[i] = total - carry * LIMB
    }
    this.#rows++
  }

  /** Rows added so far. */
  get rows(): number {
    return this.#rows
  }

  /** The checksum as 32 hexadecimal digits. */
  get hex(): string {
    return this.#limbs.map((limb) => limb.toString(16).padStart(8, '0')).join('')
  }
}
