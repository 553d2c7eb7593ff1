import { StorageError } from '@engram/core'
import {
  type TimeInput,
  type TokenUsage,
  type TokenUsageInput,
  TURN_ROLES,
  type TurnRole,
} from './memory-adapter.js'
import { describeValue, isPlainObject, toJsonText } from './memory-input.js'

/** The furthest a moment may be from the epoch, in milliseconds: the range of a JavaScript Date. */
export const MAX_TIME_MS = 8.64e15
const NUMBER = /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i
const ISO_8601 = /^[+-]?\d{4,6}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i

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

/**
 * Turns a moment (milliseconds, ISO string or Date) into milliseconds since the epoch. Numbers
 * must be whole milliseconds within a Date's range (±8.64e15), so every stored time reads back
 * exactly and fits a BIGINT column on every backend.
 */
export function toMillis(value: TimeInput, name: string): number {
  let ms: number
  if (typeof value === 'number') ms = value
  else if (value instanceof Date) ms = value.getTime()
  else if (typeof value === 'string') {
    const text = value.trim()
    // Date.parse alone would read '2.5' as 5 February 2001: numbers are numbers, dates must be ISO-8601.
    if (NUMBER.test(text)) ms = Number(text)
    else ms = ISO_8601.test(text) ? Date.parse(text) : Number.NaN
  } else ms = Number.NaN
  if (!Number.isInteger(ms) || Math.abs(ms) > MAX_TIME_MS) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `${name} must be whole milliseconds since the epoch within ±8.64e15 (a Date's range), an ISO-8601 string or a valid Date; got ${describeValue(value)}`,
    )
  }
  return ms
}

/** Serialises metadata, which must be a plain object of JSON values. */
export function toMetadataText(value: unknown): string | null {
  if (value === undefined || value === null) return null
  if (!isPlainObject(value)) {
    throw new StorageError('INVALID_ARGUMENT', `metadata must be a plain object; got ${describeValue(value)}`)
  }
  return toJsonText(value, 'metadata')
}

/** Serialises an optional JSON value (`null`/`undefined` for none). */
export function toOptionalJsonText(value: unknown, name: string): string | null {
  return value === undefined || value === null ? null : toJsonText(value, name)
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
  const usage = value as TokenUsageInput
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
