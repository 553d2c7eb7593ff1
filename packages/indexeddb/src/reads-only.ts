/**
 * Whether a statement only reads, judged by its first keyword: SELECT, VALUES and EXPLAIN, and
 * WITH when no INSERT, UPDATE, DELETE or REPLACE appears anywhere in it (even inside a string,
 * which only costs a lock). Anything else, PRAGMA included, is treated as a write.
 */
export function readsOnly(sql: string): boolean {
  if (typeof sql !== 'string') return true
  const start = sql.replace(/^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/|\()*/, '')
  if (/^(?:select|values|explain)\b/i.test(start)) return true
  return /^with\b/i.test(start) && !/\b(?:insert|update|delete|replace)\b/i.test(start)
}
