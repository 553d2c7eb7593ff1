import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** The fields of a package.json the install check reads. */
export interface PackageManifest {
  /** The package's name, with its scope. */
  readonly name: string
  /** Its version. */
  readonly version: string
  /** `true` for a package that is never published. */
  readonly private?: boolean
  /** Its SPDX license expression. */
  readonly license?: string
  /** The entry point for tools that do not read `exports`. */
  readonly main?: string
  /** The declarations for tools that do not read `exports`. */
  readonly types?: string
  /** The commands it installs: a path, or command names and paths. */
  readonly bin?: string | Readonly<Record<string, string>>
  /** The files and folders the tarball includes. */
  readonly files?: readonly string[]
  /** Its entry points and their conditions. */
  readonly exports?: unknown
  /** Where its source lives. */
  readonly repository?:
    | { readonly type?: string; readonly url?: string; readonly directory?: string }
    | string
  /** Its home page. */
  readonly homepage?: string
  /** Where to report problems. */
  readonly bugs?: { readonly url?: string } | string
  /** Search words for the registry. */
  readonly keywords?: readonly string[]
  /** What installing it installs along. */
  readonly dependencies?: Readonly<Record<string, string>>
  /** What it expects its user to install (npm and pnpm install the required ones). */
  readonly peerDependencies?: Readonly<Record<string, string>>
  /** Which peers are optional. */
  readonly peerDependenciesMeta?: Readonly<Record<string, { readonly optional?: boolean }>>
  /** Dependencies whose install may fail without failing the package's. */
  readonly optionalDependencies?: Readonly<Record<string, string>>
  /** What only its own development needs; never installed for a user. */
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
