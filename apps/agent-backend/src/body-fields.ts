import { HttpError } from './http-error.js'

/**
 * Checks that a JSON body is an object carrying only `allowed` fields and returns it. Unknown
 * fields are refused rather than ignored, so a typo (`persona` as `personna`) is a 400, not a silent no-op.
 */
export function bodyFields(body: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'INVALID_ARGUMENT', 'The request body must be a JSON object')
  }
  const unknown = Object.keys(body).filter((key) => !allowed.includes(key))
  if (unknown.length > 0) {
    throw new HttpError(
      400,
      'INVALID_ARGUMENT',
      `Unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}; expected ${allowed.map((a) => `'${a}'`).join(', ')}`,
    )
  }
  return body as Record<string, unknown>
}
