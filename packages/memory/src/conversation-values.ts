import { StorageError } from '@engram/core'
import { type TimeInput, type TokenUsage, TURN_ROLES, type TurnRole } from './memory-adapter.js'

// Postgres TEXT cannot hold NUL, so it is refused everywhere rather than only on one backend.
const NUL = '\u0000'

/** Checks a user, conversation or storage id: a non-empty string. */
export function checkId(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `${name} must be a non-empty string; got ${describeValue(value)}`,
    )
  }
  if (value.includes(NUL))
    throw new StorageError('INVALID_ARGUMENT', `${name} must not contain a NUL character`)
  return value
}

/** Checks an optional text field: a string, or `null`/`undefined` for none. */
export function checkText(value: unknown, name: string): string | null {
  if (value === undefined || value === null) return null
  if (typeof value !== 'string') {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `${name} must be a string or null; got ${describeValue(value)}`,
    )
  }
  if (value.includes(NUL))
    throw new StorageError('INVALID_ARGUMENT', `${name} must not contain a NUL character`)
  return value
}

/** Checks a turn's role against the four the contract knows. */
export function checkRole(value: unknown): TurnRole {
  if (!TURN_ROLES.includes(value as TurnRole)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `Unknown turn role ${describeValue(value)}; use one of ${TURN_ROLES.map((r) => `'${r}'`).join(', ')}`,
    )
  }
  return value as TurnRole
}

/** Checks a limit, offset or count: an integer of at least 0. */
export function checkCount(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `${name} must be an integer of 0 or more; got ${describeValue(value)}`,
    )
  }
  return value
}

/** Turns a moment (milliseconds, ISO string or Date) into milliseconds since the epoch. */
export function toMillis(value: TimeInput, name: string): number {
  let ms: number
  if (typeof value === 'number') ms = value
  else if (value instanceof Date) ms = value.getTime()
  else if (typeof value === 'string')
    ms = /^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : Date.parse(value)
  else ms = Number.NaN
  if (!Number.isFinite(ms)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `${name} must be milliseconds since the epoch, an ISO-8601 string or a Date; got ${describeValue(value)}`,
    )
  }
  return Math.trunc(ms)
}

/** Serialises a JSON value for a TEXT column, refusing what JSON would silently drop or cannot hold. */
export function toJsonText(value: unknown, name: string): string | null {
  if (value === undefined || value === null) return null
  let text: string | undefined
  try {
    text = JSON.stringify(value, (_key, item: unknown) => {
      if (typeof item === 'function' || typeof item === 'symbol') {
        throw new Error(`it contains a ${typeof item}`)
      }
      if (typeof item === 'number' && !Number.isFinite(item)) throw new Error(`it contains ${item}`)
      return item
    })
  } catch (error) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `${name} must be JSON-serialisable (plain objects, arrays, strings, finite numbers, booleans, null): ${(error as Error).message}`,
      { cause: error },
    )
  }
  if (text === undefined) throw new StorageError('INVALID_ARGUMENT', `${name} must be JSON-serialisable`)
  return text
}

/** Serialises metadata, which must be a plain object. */
export function toMetadataText(value: unknown): string | null {
  if (value === undefined || value === null) return null
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new StorageError('INVALID_ARGUMENT', `metadata must be a plain object; got ${describeValue(value)}`)
  }
  return toJsonText(value, 'metadata')
}

/** Reads a JSON TEXT column; text that is not JSON (imported as it was) comes back unchanged. */
export function readJson(text: unknown): unknown {
  if (text === null || text === undefined) return null
  if (typeof text !== 'string') return text
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** Reads the metadata column; anything but a JSON object is wrapped as `{ raw }` so the type holds. */
export function readMetadata(text: unknown): Record<string, unknown> | null {
  if (text === null || text === undefined) return null
  const value = readJson(text)
  if (typeof value === 'object' && value !== null && !Array.isArray(value))
    return value as Record<string, unknown>
  return { raw: String(text) }
}

/** Token counts as their three columns hold them: a count, or `null` where none was given. */
export interface UsageColumns {
  /** Tokens in the prompt. */
  prompt_tokens: number | null
  /** Tokens in the completion. */
  completion_tokens: number | null
  /** Tokens in total. */
  total_tokens: number | null
}

/** Checks token counts: each a non-negative integer when present. */
export function checkUsage(value: unknown): UsageColumns {
  if (value === undefined || value === null)
    return { prompt_tokens: null, completion_tokens: null, total_tokens: null }
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `usage must be { prompt_tokens, completion_tokens, total_tokens }; got ${describeValue(value)}`,
    )
  }
  const usage = value as TokenUsage
  return {
    prompt_tokens: tokenCount(usage.prompt_tokens, 'usage.prompt_tokens'),
    completion_tokens: tokenCount(usage.completion_tokens, 'usage.completion_tokens'),
    total_tokens: tokenCount(usage.total_tokens, 'usage.total_tokens'),
  }
}

/** Builds the usage object from its three columns, leaving out the ones that are NULL. */
export function readUsage(prompt: unknown, completion: unknown, total: unknown): TokenUsage | null {
  if (prompt == null && completion == null && total == null) return null
  const usage: TokenUsage = {}
  if (prompt != null) usage.prompt_tokens = Number(prompt)
  if (completion != null) usage.completion_tokens = Number(completion)
  if (total != null) usage.total_tokens = Number(total)
  return usage
}

function tokenCount(value: unknown, name: string): number | null {
  if (value === undefined || value === null) return null
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `${name} must be an integer of 0 or more; got ${describeValue(value)}`,
    )
  }
  return value
}

/** A short, safe description of a bad value for an error message. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return value.length > 40 ? `'${value.slice(0, 40)}…'` : `'${value}'`
  if (value === null || value === undefined || typeof value !== 'object') return String(value)
  return Array.isArray(value) ? 'an array' : 'an object'
}
