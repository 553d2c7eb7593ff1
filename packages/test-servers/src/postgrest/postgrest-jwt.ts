import { createHmac, timingSafeEqual } from 'node:crypto'
import type { PostgrestErrorBody } from './postgrest-errors.js'

/** JWT claims: a JSON object. */
export type JwtClaims = Record<string, unknown>

/** The outcome of `verifyJwt`: the claims, or the error PostgREST answers with (always status 401). */
export type JwtVerdict =
  | { readonly valid: true; readonly claims: JwtClaims }
  | { readonly valid: false; readonly error: PostgrestErrorBody }

/** PostgREST allows this much clock skew on `exp`, `nbf` and `iat`, in seconds. */
const ALLOWED_SKEW = 30

function base64url(input: Buffer | string): string {
  return Buffer.from(input).toString('base64url')
}

function signature(signingInput: string, secret: string): Buffer {
  return createHmac('sha256', secret).update(signingInput).digest()
}

/**
 * Signs claims as an HS256 JWT, as Supabase's keys and session tokens are.
 *
 * @example
 * signJwt({ role: 'authenticated', sub: userId, exp: Math.floor(Date.now() / 1000) + 3600 }, secret)
 */
export function signJwt(claims: JwtClaims, secret: string): string {
  const input = `${base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${base64url(JSON.stringify(claims))}`
  return `${input}.${signature(input, secret).toString('base64url')}`
}

function decodeFailure(message: string, details: string | null = null): JwtVerdict {
  return { valid: false, error: { code: 'PGRST301', message, details, hint: null } }
}

function claimsFailure(message: string): JwtVerdict {
  return { valid: false, error: { code: 'PGRST303', message, details: null, hint: null } }
}

function parseJson(part: string): unknown {
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
  } catch {
    return undefined
  }
}

function isObject(value: unknown): value is JwtClaims {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Verifies a bearer token the way PostgREST does with an HS256 secret: three parts, the HS256
 * algorithm, a signature made with the secret, then the time claims (`exp`, `nbf`, `iat`, each a
 * number if present, with 30 seconds of skew). Returns the claims, or PostgREST's error body.
 */
export function verifyJwt(token: string, secret: string, now = Date.now() / 1000): JwtVerdict {
  if (token === '') return decodeFailure('Empty JWT is sent in Authorization header')
  const parts = token.split('.')
  if (parts.length !== 3) return decodeFailure(`Expected 3 parts in JWT; got ${parts.length}`)
  const [header, payload, signed] = parts as [string, string, string]
  const decodedHeader = parseJson(header)
  if (!isObject(decodedHeader)) return decodeFailure("JWT couldn't be decoded")
  if (decodedHeader.alg !== 'HS256') {
    return decodeFailure(
      'Wrong or unsupported encoding algorithm',
      `The JWT is signed with ${JSON.stringify(decodedHeader.alg)}; this server's secret verifies HS256 only`,
    )
  }
  const expected = signature(`${header}.${payload}`, secret)
  const given = Buffer.from(signed, 'base64url')
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return decodeFailure('No suitable key or wrong key type', 'None of the keys was able to decode the JWT')
  }
  const claims = parseJson(payload)
  if (!isObject(claims)) return claimsFailure('Parsing claims failed')
  for (const [name, message] of [
    ['exp', "The JWT 'exp' claim must be a number"],
    ['nbf', "The JWT 'nbf' claim must be a number"],
    ['iat', "The JWT 'iat' claim must be a number"],
  ] as const) {
    if (claims[name] !== undefined && typeof claims[name] !== 'number') return claimsFailure(message)
  }
  const time = Math.floor(now)
  if (typeof claims.exp === 'number' && time - ALLOWED_SKEW > claims.exp) return claimsFailure('JWT expired')
  if (typeof claims.nbf === 'number' && time + ALLOWED_SKEW < claims.nbf)
    return claimsFailure('JWT not yet valid')
  if (typeof claims.iat === 'number' && time + ALLOWED_SKEW < claims.iat) {
    return claimsFailure('JWT issued at future')
  }
  return { valid: true, claims }
}
