import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * A module resolution hook that writes `<parent URL>\t<resolved URL>` for every module a run
 * resolves to a file, so the check knows which packages a snippet really loaded (including the
 * drivers core imports by name).
 */
const HOOKS = `import { appendFileSync } from 'node:fs'
let out
export function initialize(data) {
  out = data?.out
}
export async function resolve(specifier, context, nextResolve) {
  const result = await nextResolve(specifier, context)
  if (out && result.url.startsWith('file:')) appendFileSync(out, (context.parentURL ?? '') + '\\t' + result.url + '\\n')
  return result
}
`

const REGISTER = `import { register } from 'node:module'
register('./hooks.mjs', import.meta.url, { data: { out: process.env.ENGRAM_CHECK_LOADS } })
`

/**
 * Runs a compiled snippet, then gives the process a few seconds to exit on its own: a snippet
 * that leaves a pool, a server or a timer running has not cleaned up after itself, and a user
 * would see their script hang.
 */
const RUN = `import { pathToFileURL } from 'node:url'
const limit = Number(process.env.ENGRAM_CHECK_EXIT_MS ?? '5000')
const before = process.getActiveResourcesInfo()
await import(pathToFileURL(process.argv[2]).href)
const timer = setTimeout(() => {
  // What the snippet opened: the resources now, less those (stdio) open before it started.
  const open = process.getActiveResourcesInfo()
  for (const kind of before) {
    const at = open.indexOf(kind)
    if (at >= 0) open.splice(at, 1)
  }
  console.error('The snippet finished, but the process was still running ' + limit + ' ms later, held open by: ' + (open.join(', ') || 'unknown handles') + '. Something it opened was never closed.')
  process.exit(70)
}, limit)
timer.unref()
`

/** The exit code of a run whose snippet finished but whose process would not exit. */
export const STILL_RUNNING_EXIT = 70

/** Writes the run harness (`harness/run.mjs`, `register.mjs`, `hooks.mjs`) into the app. */
export function writeHarness(appDir: string): { register: string; run: string } {
  const dir = join(appDir, 'harness')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'hooks.mjs'), HOOKS)
  writeFileSync(join(dir, 'register.mjs'), REGISTER)
  writeFileSync(join(dir, 'run.mjs'), RUN)
  return { register: join(dir, 'register.mjs'), run: join(dir, 'run.mjs') }
}

/** A module one run loaded: who asked for it and the package it belongs to. */
export interface LoadedModule {
  /** The package of the importing module, or `undefined` for the snippet itself. */
  readonly from?: string
  /** The package the module belongs to. */
  readonly pkg: string
}

/** The packages a run's load log names, as `{ from, pkg }` pairs without duplicates. */
export function readLoads(file: string): LoadedModule[] {
  let text = ''
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return []
  }
  const seen = new Map<string, LoadedModule>()
  for (const line of text.split('\n')) {
    const [parent = '', url = ''] = line.split('\t')
    const pkg = packageOfUrl(url)
    if (pkg === undefined) continue
    const from = packageOfUrl(parent)
    seen.set(`${from ?? ''} ${pkg}`, from === undefined ? { pkg } : { from, pkg })
  }
  return [...seen.values()]
}

/** The package a file URL lies in (the part after its last `node_modules/`), if any. */
export function packageOfUrl(url: string): string | undefined {
  const at = url.lastIndexOf('/node_modules/')
  if (at < 0) return undefined
  const parts = decodeURIComponent(url.slice(at + '/node_modules/'.length)).split('/')
  return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]
}
