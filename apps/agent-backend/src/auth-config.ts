import { isStorageError } from '@engram/core'
import { type AuthConfig, checkUserId, MIN_SECRET_BYTES, MIN_TOKEN_LENGTH } from './authenticator.js'

/** The environment variables that configure authentication. */
export interface AuthEnv {
  /** JSON object of user id → bearer token (or a list of tokens), each at least 32 characters. */
  ENGRAM_AUTH_TOKENS?: string | undefined
  /** The shared secret of HS256 JWTs (at least 32 bytes); the user id is their `sub` claim. */
  ENGRAM_AUTH_JWT_SECRET?: string | undefined
  /** The claim that holds the user id. Default is `sub`. */
  ENGRAM_AUTH_JWT_USER_CLAIM?: string | undefined
  /** When set, a JWT's `iss` must equal it. */
  ENGRAM_AUTH_JWT_ISSUER?: string | undefined
  /** When set, a JWT's `aud` must contain it. */
  ENGRAM_AUTH_JWT_AUDIENCE?: string | undefined
  /** `1` runs with no authentication at all, trusting the URL's user id: development on a loopback address only. */
  ENGRAM_INSECURE_NO_AUTH?: string | undefined
}

/** A configuration the server refuses to start with; the message says what to set. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
}

/**
 * Reads the authentication settings. With no tokens and no JWT secret the server does not start,
 * unless `ENGRAM_INSECURE_NO_AUTH=1` says, explicitly, that nothing is to be checked.
 */
export function authConfigFromEnv(env: AuthEnv): AuthConfig {
  const tokens = parseTokens(env.ENGRAM_AUTH_TOKENS)
  const secret = env.ENGRAM_AUTH_JWT_SECRET
  const insecure = env.ENGRAM_INSECURE_NO_AUTH?.trim()
  if (insecure !== undefined && insecure !== '' && insecure !== '0') {
    if (insecure !== '1') throw new ConfigError('ENGRAM_INSECURE_NO_AUTH must be 1 (or unset)')
    if (tokens.size > 0 || secret) {
      throw new ConfigError(
        'ENGRAM_INSECURE_NO_AUTH=1 turns authentication off, but tokens or a JWT secret are set too: unset one or the other',
      )
    }
    return { mode: 'insecure' }
  }
  if (tokens.size === 0 && !secret) {
    throw new ConfigError(
      'No authentication is configured: set ENGRAM_AUTH_TOKENS (a JSON object of user id to bearer token) or ENGRAM_AUTH_JWT_SECRET (HS256), or ENGRAM_INSECURE_NO_AUTH=1 for local development only',
    )
  }
  if (secret === undefined || secret === '') return { mode: 'bearer', tokens }
  const bytes = Buffer.from(secret, 'utf8')
  if (bytes.length < MIN_SECRET_BYTES) {
    throw new ConfigError(`ENGRAM_AUTH_JWT_SECRET must be at least ${MIN_SECRET_BYTES} bytes long`)
  }
  const userClaim = env.ENGRAM_AUTH_JWT_USER_CLAIM?.trim() || 'sub'
  const issuer = env.ENGRAM_AUTH_JWT_ISSUER?.trim()
  const audience = env.ENGRAM_AUTH_JWT_AUDIENCE?.trim()
  return {
    mode: 'bearer',
    tokens,
    jwt: { secret: bytes, userClaim, ...(issuer ? { issuer } : {}), ...(audience ? { audience } : {}) },
  }
}

function parseTokens(text: string | undefined): Map<string, string> {
  const tokens = new Map<string, string>()
  if (text === undefined || text.trim() === '') return tokens
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new ConfigError('ENGRAM_AUTH_TOKENS must be JSON: {"<user id>": "<token>", …}')
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError('ENGRAM_AUTH_TOKENS must be a JSON object: {"<user id>": "<token>", …}')
  }
  for (const [user, value] of Object.entries(parsed)) {
    try {
      checkUserId(user)
    } catch (error) {
      if (!isStorageError(error)) throw error
      throw new ConfigError(
        `ENGRAM_AUTH_TOKENS: ${JSON.stringify(user)} is not a valid user id (${error.message})`,
      )
    }
    for (const token of Array.isArray(value) ? value : [value]) {
      if (typeof token !== 'string' || token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
        throw new ConfigError(
          `ENGRAM_AUTH_TOKENS: the token of ${JSON.stringify(user)} must be a string of at least ${MIN_TOKEN_LENGTH} characters without spaces (for example: openssl rand -hex 32)`,
        )
      }
      if (tokens.has(token)) throw new ConfigError('ENGRAM_AUTH_TOKENS: two users have the same token')
      tokens.set(token, user)
    }
  }
  return tokens
}
