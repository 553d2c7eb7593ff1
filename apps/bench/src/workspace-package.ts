import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

/** The monorepo's root: the nearest folder above this file with a `pnpm-workspace.yaml`. */
export function workspaceRoot(): string {
  let folder = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(folder, 'pnpm-workspace.yaml'))) {
    const parent = dirname(folder)
    if (parent === folder)
      throw new Error('the bench runs inside the engram monorepo: no pnpm-workspace.yaml above it')
    folder = parent
  }
  return folder
}

type Exports = string | { import?: string; default?: string } | Record<string, unknown>

/**
 * Imports a built `@engram/<name>` package of this monorepo (`subpath` as its `exports` name it,
 * `'.'` or `'./qdrant'`) straight from `packages/<name>`. The remote stores and their test servers
 * are not dependencies of the bench app, so a suite that compares them finds them here; the
 * module's own imports still resolve from its package. The caller describes the part it uses as `T`.
 */
export async function importWorkspacePackage<T>(name: string, subpath = '.'): Promise<T> {
  const folder = join(workspaceRoot(), 'packages', name.replace(/^@engram\//, ''))
  const manifest = join(folder, 'package.json')
  if (!existsSync(manifest)) throw new Error(`${name} is not a package of this workspace (no ${manifest})`)
  const { exports } = JSON.parse(readFileSync(manifest, 'utf8')) as { exports?: Exports }
  const entry = typeof exports === 'string' && subpath === '.' ? exports : pick(exports, subpath)
  if (!entry) throw new Error(`${name} exports nothing as "${subpath}"`)
  const file = join(folder, entry)
  if (!existsSync(file)) {
    throw new Error(
      `${name} is not built (${file} is missing): run npx tsc -p packages/${name.replace(/^@engram\//, '')}/tsconfig.build.json`,
    )
  }
  return (await import(pathToFileURL(file).href)) as T
}

function pick(exports: Exports | undefined, subpath: string): string | undefined {
  if (exports === undefined || typeof exports === 'string') return undefined
  const target = (exports as Record<string, unknown>)[subpath]
  if (typeof target === 'string') return target
  if (target && typeof target === 'object') {
    const conditions = target as { import?: unknown; default?: unknown }
    const found = conditions.import ?? conditions.default
    return typeof found === 'string' ? found : undefined
  }
  return undefined
}
