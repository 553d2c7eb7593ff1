import { isBindableString, toDriverValue } from './driver-value.js'
import type { SqlDialect, SqlParams } from './storage-adapter.js'
import { StorageError } from './storage-error.js'

/** SQL whose placeholders have been rewritten to a driver's form, ready for `bindParams`. */
export interface CompiledSql {
  /** The SQL text with `$1…$n` (Postgres) or `?` (SQLite) placeholders. */
  readonly text: string
  /** Which placeholder style the application used. */
  readonly style: 'none' | 'positional' | 'named'
  /** How many `?` placeholders the application wrote (positional style). */
  readonly count: number
  /** Named style: the parameter name bound to each driver slot, in slot order. */
  readonly slots: readonly string[]
  /** Named style: each distinct name once. */
  readonly names: readonly string[]
}

const CACHE_LIMIT = 1000

/** The most parameters one statement can bind: SQLite's default SQLITE_MAX_VARIABLE_NUMBER, and PostgreSQL's protocol limit. */
export const MAX_PARAMETERS: Readonly<Record<SqlDialect, number>> = { sqlite: 32_766, postgres: 65_535 }

function tooManyParameters(slots: number, dialect: SqlDialect, sql: string): StorageError {
  const list =
    dialect === 'postgres'
      ? '`= ANY(?)` with an array'
      : '`IN (SELECT value FROM json_each(?))` with a JSON array'
  return new StorageError(
    'INVALID_ARGUMENT',
    `The statement binds ${slots} parameters; ${dialect === 'postgres' ? 'PostgreSQL' : 'SQLite'} accepts at most ${MAX_PARAMETERS[dialect]}. Bind a long list as one parameter: ${list}.`,
    { sql },
  )
}
const caches: Record<SqlDialect, Map<string, CompiledSql>> = { sqlite: new Map(), postgres: new Map() }

/**
 * Rewrites `?` and `:name` placeholders to the dialect's form. Text inside string literals,
 * quoted identifiers, comments and dollar-quoted bodies is never touched. Results are cached.
 */
export function compileSql(sql: string, dialect: SqlDialect): CompiledSql {
  const cache = caches[dialect]
  let compiled = cache.get(sql)
  if (compiled === undefined) {
    compiled = lex(sql, dialect)
    if (cache.size >= CACHE_LIMIT) cache.clear()
    cache.set(sql, compiled)
  }
  return compiled
}

/**
 * Turns the caller's parameters into the driver's positional values for `compiled`,
 * with a clear `INVALID_ARGUMENT` error for missing, extra or `undefined` parameters.
 */
export function bindParams(
  compiled: CompiledSql,
  params: SqlParams | undefined,
  dialect: SqlDialect,
): unknown[] {
  const slots = compiled.style === 'named' ? compiled.slots.length : compiled.count
  if (slots > MAX_PARAMETERS[dialect]) throw tooManyParameters(slots, dialect, compiled.text)
  if (compiled.style === 'named') return bindNamed(compiled, params, dialect)
  const values = params ?? []
  if (!Array.isArray(values)) {
    if (Object.keys(values).length === 0 && compiled.count === 0) return []
    throw new StorageError(
      'INVALID_ARGUMENT',
      compiled.count === 0
        ? 'Named parameters were given, but the statement has no :name placeholders'
        : 'The statement uses ? placeholders: pass the parameters as an array',
      { sql: compiled.text },
    )
  }
  if (values.length !== compiled.count) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `The statement has ${compiled.count} ? placeholder${compiled.count === 1 ? '' : 's'} but ${values.length} parameter${values.length === 1 ? ' was' : 's were'} given`,
      { sql: compiled.text },
    )
  }
  // Most parameters are strings and numbers that bind as they are: then the caller's array is used as is.
  let i = 0
  while (i < values.length && isPlain(values[i], dialect)) i++
  if (i === values.length) return values as unknown[]
  const out = values.slice()
  for (; i < out.length; i++) out[i] = toDriverValue(out[i], dialect, i + 1)
  return out
}

/** A value every driver binds unchanged: a bindable string, a non-NaN number, a bigint or null. */
function isPlain(value: unknown, dialect: SqlDialect): boolean {
  const type = typeof value
  if (type === 'string') return isBindableString(value as string, dialect)
  return (type === 'number' && !Number.isNaN(value)) || type === 'bigint' || value === null
}

function bindNamed(compiled: CompiledSql, params: SqlParams | undefined, dialect: SqlDialect): unknown[] {
  if (params === undefined || Array.isArray(params) || typeof params !== 'object') {
    throw new StorageError(
      'INVALID_ARGUMENT',
      'The statement uses :name placeholders: pass the parameters as an object',
      {
        sql: compiled.text,
      },
    )
  }
  const record = params as Readonly<Record<string, unknown>>
  for (const name of compiled.names) {
    if (!Object.hasOwn(record, name)) {
      throw new StorageError('INVALID_ARGUMENT', `Missing a value for the named parameter :${name}`, {
        sql: compiled.text,
      })
    }
  }
  const keys = Object.keys(record)
  if (keys.length !== compiled.names.length) {
    const extra = keys.filter((key) => !compiled.names.includes(key))
    throw new StorageError(
      'INVALID_ARGUMENT',
      `Unused named parameter${extra.length === 1 ? '' : 's'}: ${extra.map((k) => `:${k}`).join(', ')}`,
      { sql: compiled.text },
    )
  }
  const out = new Array<unknown>(compiled.slots.length)
  for (let i = 0; i < compiled.slots.length; i++) {
    const name = compiled.slots[i] as string
    out[i] = toDriverValue(record[name], dialect, name)
  }
  return out
}

const isIdentStart = (c: number): boolean =>
  (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c > 127
const isIdentPart = (c: number): boolean => isIdentStart(c) || (c >= 48 && c <= 57) || c === 36

function lex(sql: string, dialect: SqlDialect): CompiledSql {
  const pg = dialect === 'postgres'
  const n = sql.length
  let out = ''
  let copied = 0 // sql[copied, i) has not been appended to `out` yet
  let count = 0
  const slots: string[] = []
  const names: string[] = []
  // Each distinct name's 1-based Postgres slot: a Map keeps compilation linear in the statement's length.
  const slotOf = new Map<string, number>()
  const fail = (message: string): never => {
    throw new StorageError('INVALID_ARGUMENT', message, { sql })
  }
  const emit = (i: number, skip: number, replacement: string): void => {
    out += sql.slice(copied, i) + replacement
    copied = i + skip
  }

  let i = 0
  while (i < n) {
    const c = sql.charCodeAt(i)
    const next = i + 1 < n ? sql.charCodeAt(i + 1) : 0
    if (c === 39 /* ' */) {
      const prev = i > 0 ? sql.charCodeAt(i - 1) : 0
      const escapes = pg && (prev === 69 || prev === 101) && !(i > 1 && isIdentPart(sql.charCodeAt(i - 2)))
      i = skipQuoted(sql, i, 39, escapes)
    } else if (c === 34 /* " */) {
      i = skipQuoted(sql, i, 34, false)
    } else if (!pg && c === 96 /* ` */) {
      i = skipQuoted(sql, i, 96, false)
    } else if (!pg && c === 91 /* [ */) {
      const end = sql.indexOf(']', i + 1)
      i = end < 0 ? n : end + 1
    } else if (c === 45 /* - */ && next === 45) {
      const end = sql.indexOf('\n', i + 2)
      i = end < 0 ? n : end + 1
    } else if (c === 47 /* / */ && next === 42 /* * */) {
      i = skipBlockComment(sql, i, pg)
    } else if (c === 36 /* $ */ && pg && !(i > 0 && isIdentPart(sql.charCodeAt(i - 1)))) {
      if (next >= 48 && next <= 57)
        fail('Write parameters as ? or :name; engram numbers them ($1, $2, …) itself')
      const tagEnd = dollarTagEnd(sql, i)
      if (tagEnd > 0) {
        const tag = sql.slice(i, tagEnd)
        const close = sql.indexOf(tag, tagEnd)
        i = close < 0 ? n : close + tag.length
      } else {
        i++
      }
    } else if (c === 63 /* ? */) {
      if (next === 63) {
        if (!pg) fail('?? escapes the Postgres JSONB operators ?, ?| and ?&; SQLite has no such operator')
        emit(i, 2, '?')
        i += 2
      } else {
        if (next >= 48 && next <= 57) fail('Numbered ?NNN parameters are not supported; write ? or :name')
        count++
        emit(i, 1, pg ? `$${count}` : '?')
        i++
      }
    } else if (c === 58 /* : */) {
      if (next === 58) {
        i += 2 // a Postgres cast, ::type
      } else if (isIdentStart(next) && !(i > 0 && isIdentPart(sql.charCodeAt(i - 1)))) {
        let end = i + 2
        while (end < n && isIdentPart(sql.charCodeAt(end)) && sql.charCodeAt(end) !== 36) end++
        const name = sql.slice(i + 1, end)
        let known = slotOf.get(name)
        if (known === undefined) {
          names.push(name)
          known = names.length
          slotOf.set(name, known)
        }
        const slot = pg ? known : slots.length + 1
        slots.push(name)
        emit(i, end - i, pg ? `$${slot}` : '?')
        i = end
      } else {
        i++
      }
    } else {
      i++
    }
  }
  if (count > 0 && slots.length > 0) {
    fail('A statement cannot mix ? and :name placeholders; use one style')
  }
  const text = copied === 0 ? sql : out + sql.slice(copied)
  if (slots.length > 0) {
    return { text, style: 'named', count: 0, slots: pg ? names : slots, names }
  }
  return { text, style: count > 0 ? 'positional' : 'none', count, slots: [], names: [] }
}

/** Index just past a quoted run starting at `start`; a doubled quote is an escaped quote. */
function skipQuoted(sql: string, start: number, quote: number, backslashEscapes: boolean): number {
  let i = start + 1
  while (i < sql.length) {
    const c = sql.charCodeAt(i)
    if (backslashEscapes && c === 92 /* \ */) {
      i += 2
    } else if (c === quote) {
      if (sql.charCodeAt(i + 1) === quote) i += 2
      else return i + 1
    } else {
      i++
    }
  }
  return sql.length
}

/** Index just past a block comment; Postgres comments nest, SQLite's do not. */
function skipBlockComment(sql: string, start: number, nested: boolean): number {
  let depth = 1
  let i = start + 2
  while (i < sql.length) {
    if (sql.startsWith('*/', i)) {
      depth--
      i += 2
      if (depth === 0 || !nested) return i
    } else if (nested && sql.startsWith('/*', i)) {
      depth++
      i += 2
    } else {
      i++
    }
  }
  return sql.length
}

/** If a dollar-quote tag (`$$` or `$tag$`) starts at `start`, the index just past it; otherwise -1. */
function dollarTagEnd(sql: string, start: number): number {
  let i = start + 1
  if (sql.charCodeAt(i) === 36) return i + 1
  if (!isIdentStart(sql.charCodeAt(i))) return -1
  while (i < sql.length && isIdentPart(sql.charCodeAt(i)) && sql.charCodeAt(i) !== 36) i++
  return sql.charCodeAt(i) === 36 ? i + 1 : -1
}
