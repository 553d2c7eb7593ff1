import { createHmac } from 'node:crypto'

/** The secret the tests configure and sign with. */
export const TEST_SECRET = 'a test secret that is comfortably longer than 32 bytes'

/** Signs claims as a compact HS256 JWT (or with another `alg` in the header, for forgery tests). */
export function signJwt(
  claims: Record<string, unknown>,
  options: { secret?: string; header?: Record<string, unknown> } = {},
): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const head = encode(options.header ?? { alg: 'HS256', typ: 'JWT' })
  const body = encode(claims)
  const signature = createHmac('sha256', options.secret ?? TEST_SECRET)
    .update(`${head}.${body}`)
    .digest('base64url')
  return `${head}.${body}.${signature}`
}

/** A token for `user` that expires in an hour. */
export function tokenFor(user: string): string {
  return signJwt({ sub: user, exp: Math.floor(Date.now() / 1000) + 3600 })
}
