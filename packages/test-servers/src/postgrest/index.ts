export {
  type PostgrestErrorBody,
  type PostgrestFailure,
  statusForSqlState,
} from './postgrest-errors.js'
export { type JwtClaims, type JwtVerdict, signJwt, verifyJwt } from './postgrest-jwt.js'
export {
  type PostgrestServer,
  type PostgrestServerOptions,
  startPostgrestServer,
} from './postgrest-server.js'
export { installSupabasePlatform, SUPABASE_ROLES } from './supabase-platform.js'
