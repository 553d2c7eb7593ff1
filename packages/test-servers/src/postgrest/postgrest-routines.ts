import type pg from 'pg'
import type { PostgrestFailure } from './postgrest-errors.js'

/** One input parameter of a function. */
export interface RoutineParam {
  /** Its name; `''` when unnamed. */
  readonly name: string
  /** Its type as `format_type` spells it (`jsonb`, `double precision`, …). */
  readonly type: string
  /** Whether it has no default, so a call must give it. */
  readonly required: boolean
}

/** A function as PostgREST's schema cache describes it. */
export interface Routine {
  readonly schema: string
  readonly name: string
  readonly params: readonly RoutineParam[]
  /** `'void'`, a single `'scalar'`, a single `'composite'` row, or a set of either. */
  readonly returns: 'void' | 'scalar' | 'composite'
  /** Whether it returns a set. */
  readonly set: boolean
  /** Volatile functions run in a read-write transaction, the others read-only. */
  readonly volatile: boolean
  /** The function's own settings PostgREST applies to the whole transaction (its `db-hoisted-tx-settings`). */
  readonly settings: ReadonlyArray<readonly [name: string, value: string]>
}

/** PostgREST's default `db-hoisted-tx-settings`: a function's own values of these apply to the whole call. */
export const HOISTED_SETTINGS = [
  'statement_timeout',
  'plan_filter.statement_cost_limit',
  'default_transaction_isolation',
]

const ROUTINES_SQL = `
SELECT p.proname AS name,
  p.pronargs AS nargs,
  p.pronargdefaults AS ndefaults,
  coalesce(p.proargnames, '{}') AS arg_names,
  coalesce(p.proargmodes::text[], '{}') AS arg_modes,
  array(SELECT format_type(t, NULL) FROM unnest(p.proargtypes) WITH ORDINALITY AS a(t, i) ORDER BY a.i) AS arg_types,
  p.proretset AS set,
  p.provolatile AS volatility,
  p.prorettype = 'pg_catalog.void'::regtype AS void,
  (rt.typtype = 'c' OR p.prorettype = 'pg_catalog.record'::regtype) AS composite,
  coalesce(p.proconfig, '{}') AS config
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_type rt ON rt.oid = p.prorettype
WHERE n.nspname = $1 AND p.prokind = 'f' AND ($2::text IS NULL OR p.proname = $2)`

interface RoutineRow {
  name: string
  nargs: number
  ndefaults: number
  arg_names: string[]
  arg_modes: string[]
  arg_types: string[]
  set: boolean
  volatility: string
  void: boolean
  composite: boolean
  config: string[]
}

/** The functions of `schema` (named `name`, or all of them), read from the catalog on each call. */
export async function loadRoutines(db: pg.Pool, schema: string, name?: string): Promise<Routine[]> {
  const { rows } = await db.query<RoutineRow>(ROUTINES_SQL, [schema, name ?? null])
  return rows.map((row) => {
    // proargnames covers every argument (OUT ones too) when proargmodes is set; keep the inputs.
    const names =
      row.arg_modes.length === 0
        ? row.arg_names
        : row.arg_names.filter((_, i) => ['i', 'b', 'v'].includes(row.arg_modes[i] ?? 'i'))
    const required = row.nargs - row.ndefaults
    return {
      schema,
      name: row.name,
      params: row.arg_types.map((type, i) => ({ name: names[i] ?? '', type, required: i < required })),
      returns: row.void ? 'void' : row.composite ? 'composite' : 'scalar',
      set: row.set,
      volatile: row.volatility === 'v',
      settings: row.config.flatMap((setting) => {
        const at = setting.indexOf('=')
        const name = setting.slice(0, at)
        return HOISTED_SETTINGS.includes(name) ? [[name, setting.slice(at + 1)] as const] : []
      }),
    }
  })
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x))
}

/**
 * Whether `routine` can be called with exactly these argument keys, by PostgREST's rule: every
 * required parameter is given, and every given key names a parameter. A function with a single
 * unnamed json/jsonb parameter takes a POSTed JSON body whole.
 */
function matches(routine: Routine, keys: ReadonlySet<string>): boolean {
  if (routine.params.length === 0) return keys.size === 0
  const required = new Set(routine.params.filter((p) => p.required).map((p) => p.name))
  const optional = new Set(routine.params.filter((p) => !p.required).map((p) => p.name))
  const rest = new Set([...keys].filter((key) => !optional.has(key)))
  return sameSet(rest, required)
}

function takesBody(routine: Routine, post: boolean): boolean {
  const [only] = routine.params
  return post && routine.params.length === 1 && only?.name === '' && ['json', 'jsonb'].includes(only.type)
}

/** Bigram similarity of two names (Dice's coefficient), for "Perhaps you meant" hints. */
function similarity(a: string, b: string): number {
  const grams = (s: string) => Array.from({ length: Math.max(s.length - 1, 0) }, (_, i) => s.slice(i, i + 2))
  const left = grams(a)
  const right = grams(b)
  if (left.length === 0 || right.length === 0) return a === b ? 1 : 0
  const pool = [...right]
  let shared = 0
  for (const gram of left) {
    const at = pool.indexOf(gram)
    if (at >= 0) {
      shared++
      pool.splice(at, 1)
    }
  }
  return (2 * shared) / (left.length + right.length)
}

const listParams = (names: readonly string[]) => `(${[...names].sort().join(', ')})`

/** The body of PGRST202: what was searched for, and the closest function or parameter list. */
function noRoutine(
  schema: string,
  name: string,
  keys: readonly string[],
  overloads: readonly Routine[],
  everything: readonly Routine[],
  post: boolean,
): PostgrestFailure {
  const func = `${schema}.${name}`
  const given = keys.length === 0 ? ' without parameters' : `(${keys.join(', ')})`
  const searched =
    keys.length === 0
      ? ' without parameters'
      : ` with parameter${keys.length > 1 ? 's' : ''} ${keys.join(', ')}`
  let hint: string | null = null
  if (overloads.length > 0) {
    const best = overloads
      .map((r) => r.params.map((p) => p.name))
      .sort(
        (x, y) => similarity(listParams(y), listParams(keys)) - similarity(listParams(x), listParams(keys)),
      )[0]
    if (best !== undefined) hint = `Perhaps you meant to call the function ${func}${listParams(best)}`
  } else {
    const close = everything
      .map((r) => ({ name: r.name, score: similarity(r.name, name) }))
      .filter((c) => c.score >= 0.75)
      .sort((x, y) => y.score - x.score)[0]
    if (close !== undefined) hint = `Perhaps you meant to call the function ${schema}.${close.name}`
  }
  return {
    status: 404,
    body: {
      code: 'PGRST202',
      message: `Could not find the function ${func}${given} in the schema cache`,
      details: `Searched for the function ${func}${searched}${post ? ' or with a single unnamed json/jsonb parameter' : ''}, but no matches were found in the schema cache.`,
      hint,
    },
  }
}

/**
 * Picks the function a request calls, as PostgREST's `findProc` does: by name and by the set of
 * argument keys, falling back to a single unnamed json/jsonb parameter for a POSTed body.
 * Answers PGRST202 (no match, with a hint) or PGRST203 (overloads it cannot choose between).
 */
export function chooseRoutine(
  schema: string,
  name: string,
  keys: readonly string[],
  overloads: readonly Routine[],
  everything: () => Promise<Routine[]>,
  post: boolean,
): Promise<Routine | PostgrestFailure> {
  const keySet = new Set(keys)
  const named = overloads.filter((r) => matches(r, keySet))
  const fallback = overloads.filter((r) => takesBody(r, post))
  const candidates = named.length > 0 ? named : fallback
  if (candidates.length === 1) return Promise.resolve(candidates[0] as Routine)
  if (candidates.length > 1) {
    const listed = candidates
      .map((r) => `${r.schema}.${r.name}(${r.params.map((p) => `${p.name} => ${p.type}`).join(', ')})`)
      .join(', ')
    return Promise.resolve({
      status: 300,
      body: {
        code: 'PGRST203',
        message: `Could not choose the best candidate function between: ${listed}`,
        details: null,
        hint: 'Try renaming the parameters or the function itself in the database so function overloading can be resolved',
      },
    })
  }
  const sorted = [...keys].sort()
  if (overloads.length > 0) return Promise.resolve(noRoutine(schema, name, sorted, overloads, [], post))
  return everything().then((all) => noRoutine(schema, name, sorted, [], all, post))
}

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`

/**
 * The statement PostgREST runs for a call (its `callPlanToQuery` wrapped by `mainCall`): the
 * JSON body is `$1`, spread into typed columns with `json_to_record`, and passed by name, so
 * parameters left out take their defaults. GET arguments come as text in `$1…$n` instead.
 * The statement returns one row: `body` (the response JSON) and `page_total`. `parameters` says
 * what to bind: the body as `$1`, or the named GET arguments in this order.
 */
export function callSql(
  routine: Routine,
  keys: readonly string[],
  source: 'json' | 'query',
): { sql: string; parameters: 'body' | readonly string[] } {
  const given = routine.params.filter((p) => keys.includes(p.name))
  const fn = `${ident(routine.schema)}.${ident(routine.name)}`
  let from: string
  let args: string
  let parameters: 'body' | readonly string[] = given.map((p) => p.name)
  if (takesBody(routine, source === 'json') && !routine.params.some((p) => keys.includes(p.name))) {
    from = ''
    args = `$1::${routine.params[0]?.type}`
    parameters = 'body'
  } else if (source === 'json' && given.length > 0) {
    const columns = given.map((p) => ident(p.name)).join(', ')
    const typed = given.map((p) => `${ident(p.name)} ${p.type}`).join(', ')
    from = `(SELECT $1::json AS json_data) pgrst_payload, LATERAL (SELECT ${columns} FROM json_to_record(pgrst_payload.json_data) AS _(${typed}) LIMIT 1) pgrst_body, `
    args = given.map((p) => `${ident(p.name)} := pgrst_body.${ident(p.name)}`).join(', ')
    parameters = 'body'
  } else {
    from = ''
    args = given.map((p, i) => `${ident(p.name)} := $${i + 1}::${p.type}`).join(', ')
  }
  const scalar = routine.returns !== 'composite'
  const call = scalar
    ? `SELECT pgrst_call.pgrst_scalar FROM ${from}LATERAL (SELECT ${fn}(${args}) pgrst_scalar) pgrst_call`
    : `SELECT pgrst_call.* FROM ${from}LATERAL ${fn}(${args}) pgrst_call`
  const body =
    routine.returns === 'void'
      ? `''`
      : scalar
        ? routine.set
          ? `coalesce(json_agg(_postgrest_t.pgrst_scalar), '[]')`
          : `coalesce(json_agg(_postgrest_t.pgrst_scalar)->0, 'null')`
        : routine.set
          ? `coalesce(json_agg(_postgrest_t), '[]')`
          : `coalesce(json_agg(_postgrest_t)->0, 'null')`
  return {
    sql: `WITH pgrst_source AS (${call}) SELECT ${body}::text AS body, count(_postgrest_t) AS page_total FROM (SELECT * FROM pgrst_source) _postgrest_t`,
    parameters,
  }
}
