import { HttpError } from './http-error.js'

/** Typed, checked access to a request's query string; a malformed value is a 400 naming the parameter. */
export class QueryParams {
  readonly #params: URLSearchParams

  constructor(params: URLSearchParams) {
    this.#params = params
  }

  /** The raw value, or `undefined` when absent or empty. */
  string(name: string): string | undefined {
    const value = this.#params.get(name)
    return value === null || value === '' ? undefined : value
  }

  /** A whole number in `[min, max]`, or `undefined` when absent. */
  integer(name: string, min: number, max: number): number | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw invalid(`${name} must be a whole number from ${min} to ${max}; got '${raw}'`)
    }
    return value
  }

  /** One of `allowed`, or `undefined` when absent. */
  oneOf<T extends string>(name: string, allowed: readonly T[]): T | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    if (!allowed.includes(raw as T)) {
      throw invalid(`${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}; got '${raw}'`)
    }
    return raw as T
  }

  /** A comma-separated list (`roles=user,assistant`), or `undefined` when absent. */
  list(name: string): string[] | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    return raw
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item.length > 0)
  }
}

function invalid(message: string): HttpError {
  return new HttpError(400, 'INVALID_ARGUMENT', message)
}
