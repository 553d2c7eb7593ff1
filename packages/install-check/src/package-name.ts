import { builtinModules } from 'node:module'

const BUILTINS = new Set(builtinModules)

/**
 * The package a bare module specifier belongs to (`@engram/core`, `sql.js` for
 * `sql.js/dist/x.wasm?url`), or `undefined` for relative paths, URLs and Node built-ins.
 */
export function packageName(specifier: string): string | undefined {
  const path = specifier.replace(/[?#].*$/, '')
  if (path === '' || path.startsWith('.') || path.startsWith('/') || /^[a-z][a-z0-9+.-]*:/i.test(path)) {
    return undefined
  }
  const parts = path.split('/')
  const name = path.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? '')
  if (BUILTINS.has(name)) return undefined
  return name
}
