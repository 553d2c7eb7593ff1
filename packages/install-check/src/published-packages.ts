import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** The fields of a package.json the install check reads. */
export interface PackageManifest {
  readonly name: string
  readonly version: string
  readonly private?: boolean
  readonly license?: string
  readonly main?: string
  readonly types?: string
  readonly bin?: string | Readonly<Record<string, string>>
  readonly files?: readonly string[]
  readonly exports?: unknown
  readonly repository?:
    | { readonly type?: string; readonly url?: string; readonly directory?: string }
    | string
  readonly homepage?: string
  readonly bugs?: { readonly url?: string } | string
  readonly keywords?: readonly string[]
  readonly dependencies?: Readonly<Record<string, string>>
  readonly peerDependencies?: Readonly<Record<string, string>>
  readonly peerDependenciesMeta?: Readonly<Record<string, { readonly optional?: boolean }>>
  readonly optionalDependencies?: Readonly<Record<string, string>>
  readonly devDependencies?: Readonly<Record<string, string>>
}

/** A package of the workspace that is published (not `"private": true`). */
export interface PublishedPackage {
  /** Its name, `@engram/core`. */
  readonly name: string
  /** Its folder, relative to the repository root (`packages/core`). */
  readonly dir: string
  /** Its package.json as written in the repository (before `pnpm pack` rewrites `workspace:` ranges). */
  readonly manifest: PackageManifest
}

/** The folders packages are published from. */
export const PUBLISHED_FOLDERS: readonly string[] = ['packages', 'apps']

/** Every package under `packages/` and `apps/` that is not private, sorted by name. */
export function publishedPackages(root: string): PublishedPackage[] {
  const found: PublishedPackage[] = []
  for (const group of PUBLISHED_FOLDERS) {
    for (const entry of readdirSync(join(root, group), { withFileTypes: true })) {
      const file = join(root, group, entry.name, 'package.json')
      if (!entry.isDirectory() || !existsSync(file)) continue
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as PackageManifest
      if (manifest.private === true) continue
      found.push({ name: manifest.name, dir: `${group}/${entry.name}`, manifest })
    }
  }
  return found.sort((a, b) => a.name.localeCompare(b.name))
}

/** The README files the check reads: the repository's own and every published package's. */
export function checkedReadmes(root: string): string[] {
  return ['README.md', ...publishedPackages(root).map((pkg) => `${pkg.dir}/README.md`)].filter((path) =>
    existsSync(join(root, path)),
  )
}
