import { createHash } from 'node:crypto'
import { isStorageError, StorageError, validateTenant } from '@engram/core'
import { HttpError } from './http-error.js'
import { JwtError, type JwtRules, verifyHs256Jwt } from './verify-hs256-jwt.js'

/** How requests prove who they are. */
export type AuthConfig =
  | {
      /** Bearer tokens, each mapped to the user id it acts as, and/or HS256 JWTs. */
      mode: 'bearer'
      /** Static tokens: token → user id. */
      tokens: ReadonlyMap<string, string>
      /** HS256 JWTs, when configured. */
      jwt?: Omit<JwtRules, 'now'>
    }
  | {
      /** No authentication: the user id in the URL is trusted. For development on a loopback address only. */
      mode: 'insecure'
    }

/** Works out who a request acts for. */
export interface Authenticator {
  /** `'bearer'`, or `'insecure'` when nothing is checked. */
  readonly mode: AuthConfig['mode']
  /**
   * The user id the `Authorization` header proves, or `undefined` in insecure mode (the URL's user
   * id is then taken as it is). A missing, unknown, malformed or expired credential is a 401.
   */
  authenticate(authorization: string | undefined): string | undefined
}

/** The shortest static token accepted, so a guessable token cannot be configured by mistake. */
export const MIN_TOKEN_LENGTH = 32
/** The shortest JWT secret accepted, in bytes (RFC 7518 asks for at least the hash size). */
export const MIN_SECRET_BYTES = 32

/** Builds the authenticator for a configuration. */
export function createAuthenticator(config: AuthConfig): Authenticator {
  if (config.mode === 'insecure') return { mode: 'insecure', authenticate: () => undefined }
  // Looked up by hash, so a lookup costs the same whatever the token shares with a real one.
  const byHash = new Map<string, string>()
  for (const [token, user] of config.tokens) byHash.set(digest(token), user)
  const { jwt } = config
  return {
    mode: 'bearer',
    authenticate(authorization) {
      const token = bearerToken(authorization)
      const user = byHash.get(digest(token))
      if (user !== undefined) return user
      if (jwt === undefined)
        throw unauthenticated('The bearer token is not one this server knows', 'invalid_token')
      let claimed: unknown
      try {
        claimed = verifyHs256Jwt(token, jwt)
      } catch (error) {
        if (error instanceof JwtError) throw unauthenticated(error.message, 'invalid_token')
        throw error
      }
      try {
        return checkUserId(claimed)
      } catch (error) {
        if (!isStorageError(error)) throw error
        throw unauthenticated(
          `The JWT's ${jwt.userClaim ?? 'sub'} claim is not a valid user id: ${error.message}`,
          'invalid_token',
        )
      }
    },
  }
}

/** Checks a user id the way `@engram/memory` does: a non-empty string of at most 256 characters of well-formed Unicode without NUL. */
export function checkUserId(value: unknown): string {
  const user = validateTenant(value, 'user id')
  if (user === '') throw new StorageError('INVALID_ARGUMENT', 'user id must not be empty')
  return user
}

function bearerToken(authorization: string | undefined): string {
  if (authorization === undefined || authorization.trim() === '') {
    throw unauthenticated('This endpoint needs an Authorization: Bearer <token> header')
  }
  const match = /^Bearer +(\S+) *$/i.exec(authorization)
  if (!match) throw unauthenticated('The Authorization header must be "Bearer <token>"', 'invalid_request')
  return match[1] as string
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

function unauthenticated(message: string, error?: 'invalid_token' | 'invalid_request'): HttpError {
  const challenge = error === undefined ? 'Bearer realm="engram"' : `Bearer realm="engram", error="${error}"`
  return new HttpError(401, 'UNAUTHENTICATED', message, { 'www-authenticate': challenge })
}
