/**
 * The input rules every memory API shares (ConversationMemory, Memory, KnowledgeGraph,
 * AgentState), so a key, an options object or a JSON value is accepted or refused the same way
 * everywhere, before anything is written.
 */
import { checkWellFormed, MAX_ID_LENGTH, StorageError, validateTenant } from '@engram/core'

/** The deepest nesting accepted in a stored JSON value (metadata, tool calls, properties, agent state). */
export const MAX_JSON_DEPTH = 100

/**
 * Checks a key that scopes or names stored data (a conversation, turn, trace, document, entity or
 * agent id): a non-empty string of at most `max` characters, well-formed Unicode without NUL.
 * A lone surrogate is encoded as U+FFFD by the drivers, so `'T\uD800'` and `'T\uFFFD'` would
 * otherwise reach the same rows.
 */
export function checkKey(value: unknown, name: string, max = MAX_ID_LENGTH): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `${name} must be a non-empty string of at most ${max} characters; got ${describeValue(value)}`,
    )
  }
  return checkWellFormed(value, name)
}

/** Checks a user id: core's tenant rule (at most 256 characters, well-formed Unicode without NUL), and not empty. */
export function checkUserId(value: unknown, name = 'userId'): string {
  if (value === '') throw new StorageError('INVALID_ARGUMENT', `${name} must be a non-empty string; got ''`)
  return validateTenant(value, name)
}

/** Checks an optional text value: a well-formed string without NUL, or `null`/`undefined` for none. */
export function checkText(value: unknown, name: string): string | null {
  if (value === undefined || value === null) return null
  if (typeof value !== 'string') {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `${name} must be a string or null; got ${describeValue(value)}`,
    )
  }
  return checkWellFormed(value, name)
}

/** Checks an options argument: `undefined` (no options) or a plain object; a string, number or array is refused, not ignored. */
export function checkOptions<T extends object>(value: T | undefined, name: string): Partial<T> {
  if (value === undefined) return {}
  if (!isPlainObject(value)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `${name} must be an object such as { limit: 10 }, or left out; got ${describeValue(value)}`,
    )
  }
  return value
}

/** Whether `value` is an object literal (or has a null prototype): not an array, Map, Date or class instance. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/**
 * Serialises a JSON value, refusing anything `JSON.stringify` would silently change: Maps and
 * Sets (stored as `{}`), Dates and other objects with `toJSON` (stored as strings), class
 * instances, functions, symbols, bigints, `undefined` values, holes in arrays, non-finite
 * numbers, cycles, and nesting deeper than `MAX_JSON_DEPTH`. What it returns reads back equal.
 */
export function toJsonText(value: unknown, name: string): string {
  checkJsonValue(value, name)
  return JSON.stringify(value)
}

const JSON_RULE =
  'store plain objects, arrays, strings, finite numbers, booleans and null (for example Object.fromEntries(map) for a Map, date.toISOString() for a Date)'

/** Walks the value without recursion, so a hostile nesting depth is an error rather than a stack overflow. */
function checkJsonValue(root: unknown, name: string): void {
  // Each frame is a container and the path to it; `open` holds the containers on the current path, to spot cycles.
  const open = new Set<object>()
  const stack: Array<{ value: unknown; path: string; depth: number } | { leave: object }> = [
    { value: root, path: name, depth: 0 },
  ]
  while (stack.length > 0) {
    const frame = stack.pop() as (typeof stack)[number]
    if ('leave' in frame) {
      open.delete(frame.leave)
      continue
    }
    const { value, path, depth } = frame
    if (value === null || typeof value === 'string' || typeof value === 'boolean') continue
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) refuse(path, `is ${value}`)
      continue
    }
    if (typeof value !== 'object')
      refuse(path, `is ${value === undefined ? 'undefined' : `a ${typeof value}`}`)
    const container = value as object
    if (depth >= MAX_JSON_DEPTH) refuse(path, `is nested more than ${MAX_JSON_DEPTH} levels deep`)
    if (open.has(container)) refuse(path, 'refers back to itself (a cycle)')
    open.add(container)
    stack.push({ leave: container })
    if (Array.isArray(container)) {
      for (let i = container.length - 1; i >= 0; i--) {
        if (!(i in container)) refuse(`${path}[${i}]`, 'is a hole in the array')
        stack.push({ value: container[i], path: `${path}[${i}]`, depth: depth + 1 })
      }
      continue
    }
    if (!isPlainObject(container)) refuse(path, `is ${describeObject(container)}`)
    if (Object.getOwnPropertySymbols(container).length > 0) refuse(path, 'has symbol keys')
    for (const key of Object.keys(container)) {
      stack.push({
        value: (container as Record<string, unknown>)[key],
        path: `${path}.${key}`,
        depth: depth + 1,
      })
    }
  }
}

function refuse(path: string, problem: string): never {
  throw new StorageError('INVALID_ARGUMENT', `${path} ${problem}; ${JSON_RULE}`)
}

function describeObject(value: object): string {
  if (value instanceof Map) return 'a Map'
  if (value instanceof Set) return 'a Set'
  if (value instanceof Date) return 'a Date'
  const maker = (value as { constructor?: { name?: unknown } }).constructor
  return typeof maker?.name === 'string' && maker.name !== ''
    ? `an instance of ${maker.name}`
    : 'not a plain object'
}

/** A short, safe description of a bad value for an error message. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return value.length > 40 ? `'${value.slice(0, 40)}…'` : `'${value}'`
  if (typeof value === 'bigint') return `${value}n`
  if (value === null || value === undefined || typeof value !== 'object') {
    return typeof value === 'function' || typeof value === 'symbol' ? `a ${typeof value}` : String(value)
  }
  if (Array.isArray(value)) return 'an array'
  return isPlainObject(value) ? 'an object' : describeObject(value)
}
