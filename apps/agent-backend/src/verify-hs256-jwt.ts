import { createHmac, timingSafeEqual } from 'node:crypto'

/** What an HS256 JWT must satisfy besides its signature. */
export interface JwtRules {
  /** The shared secret the tokens are signed with. */
  secret: Buffer
  /** The claim that holds the user id. Default is `'sub'`. */
  userClaim?: string
  /** When set, the `iss` claim must equal it. */
  issuer?: string
  /** When set, the `aud` claim (a string or a list) must contain it. */
  audience?: string
  /** Seconds of clock difference tolerated on `exp` and `nbf`. Default is `30`. */
  leewaySeconds?: number
  /** The current time in seconds since the epoch. Default is the clock's. */
  now?: number
}

/** Why a token was refused; the message is safe to send to the client. */
export class JwtError extends Error {
  override readonly name = 'JwtError'
}

const SEGMENT = /^[A-Za-z0-9_-]+$/

/**
 * Verifies a compact HS256 JWT and returns the value of its user claim, for the caller to check
 * as a user id. Only `alg: "HS256"` is
 * accepted (never `none`, never another algorithm a forged header asks for); the signature is
 * compared in constant time; `exp` is required and `nbf`, `iss` and `aud` are enforced.
 */
export function verifyHs256Jwt(token: string, rules: JwtRules): unknown {
  const parts = token.split('.')
  if (parts.length !== 3 || !parts.every((part) => SEGMENT.test(part))) {
    throw new JwtError('The bearer token is not a compact JWT (three base64url parts)')
  }
  const [header, payload, signature] = parts as [string, string, string]
  const head = decodeJson(header, 'header')
  if (head.alg !== 'HS256') throw new JwtError('The JWT must be signed with HS256')
  if (head.crit !== undefined)
    throw new JwtError('The JWT has critical header parameters this server does not know')
  const expected = createHmac('sha256', rules.secret).update(`${header}.${payload}`).digest()
  const given = Buffer.from(signature, 'base64url')
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new JwtError('The JWT signature does not match')
  }
  const claims = decodeJson(payload, 'payload')
  const now = rules.now ?? Math.floor(Date.now() / 1000)
  const leeway = rules.leewaySeconds ?? 30
  if (typeof claims.exp !== 'number' || !Number.isFinite(claims.exp)) {
    throw new JwtError('The JWT has no exp claim; tokens must expire')
  }
  if (now > claims.exp + leeway) throw new JwtError('The JWT has expired')
  if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || now + leeway < claims.nbf)) {
    throw new JwtError('The JWT is not valid yet')
  }
  if (rules.issuer !== undefined && claims.iss !== rules.issuer)
    throw new JwtError('The JWT has the wrong issuer')
  if (rules.audience !== undefined) {
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud]
    if (!audiences.includes(rules.audience)) throw new JwtError('The JWT is not meant for this audience')
  }
  return claims[rules.userClaim ?? 'sub']
}

function decodeJson(segment: string, what: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
  } catch {
    throw new JwtError(`The JWT ${what} is not JSON`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new JwtError(`The JWT ${what} is not a JSON object`)
  }
  return value as Record<string, unknown>
}
