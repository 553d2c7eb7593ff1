import type { PackageManifest } from './published-packages.js'

/** Where the published packages say their source lives. */
export const REPOSITORY_URL = 'git+https://github.com/engram/engram.git'

/** The address of the repository's web pages, for homepage and docs links. */
export const REPOSITORY_WEB = 'https://github.com/engram/engram'

/**
 * What is wrong with a packed package: files its `exports`, `main`, `types` or `bin` point to
 * that the tarball lacks, an export without a condition `require()` can use, a missing LICENSE
 * or README, and missing or wrong `repository`, `homepage`, `bugs` and `license` fields.
 *
 * @param manifest the package.json inside the tarball
 * @param files the tarball's file paths, relative to its `package/` folder
 * @param dir the package's folder in the repository (`packages/core`)
 */
export function manifestProblems(manifest: PackageManifest, files: readonly string[], dir: string): string[] {
  const shipped = new Set(files)
  const problems: string[] = []
  const needFile = (field: string, target: string) => {
    const path = target.replace(/^\.\//, '')
    if (!shipped.has(path)) problems.push(`${field} points to ${target}, which the tarball does not contain`)
  }
  if (manifest.main !== undefined) needFile('main', manifest.main)
  if (manifest.types !== undefined) needFile('types', manifest.types)
  const bins = typeof manifest.bin === 'string' ? { [manifest.name]: manifest.bin } : (manifest.bin ?? {})
  for (const [command, target] of Object.entries(bins)) needFile(`bin.${command}`, target)
  for (const [subpath, target] of exportEntries(manifest.exports)) {
    if (typeof target === 'string') {
      needFile(`exports["${subpath}"]`, target)
      continue
    }
    for (const [condition, file] of Object.entries(target)) {
      if (typeof file === 'string') needFile(`exports["${subpath}"].${condition}`, file)
    }
    if (!('default' in target) && !('require' in target)) {
      problems.push(
        `exports["${subpath}"] has no "default" (or "require") condition, so require('${manifest.name}') fails with ERR_PACKAGE_PATH_NOT_EXPORTED`,
      )
    }
  }
  for (const required of ['LICENSE', 'README.md']) {
    if (!shipped.has(required)) problems.push(`the tarball has no ${required}`)
  }
  if (manifest.license !== 'MIT')
    problems.push(`license is ${JSON.stringify(manifest.license)}, expected "MIT"`)
  const repository =
    typeof manifest.repository === 'string' ? { url: manifest.repository } : manifest.repository
  if (repository?.url !== REPOSITORY_URL || repository.directory !== dir) {
    problems.push(
      `repository is ${JSON.stringify(manifest.repository)}, expected { "type": "git", "url": "${REPOSITORY_URL}", "directory": "${dir}" }`,
    )
  }
  if (!manifest.homepage?.startsWith(REPOSITORY_WEB))
    problems.push(`homepage is missing or not under ${REPOSITORY_WEB}`)
  const bugs = typeof manifest.bugs === 'string' ? manifest.bugs : manifest.bugs?.url
  if (!bugs?.startsWith(REPOSITORY_WEB)) problems.push(`bugs is missing or not under ${REPOSITORY_WEB}`)
  return problems
}

/** The subpath exports of a package: `[subpath, target]`, with a bare string or condition map as `"."`. */
export function exportEntries(exports: unknown): [string, string | Record<string, unknown>][] {
  if (exports === undefined || exports === null) return []
  if (typeof exports === 'string') return [['.', exports]]
  const map = exports as Record<string, unknown>
  const keys = Object.keys(map)
  if (keys.length > 0 && keys.every((key) => !key.startsWith('.'))) return [['.', map]]
  return keys.flatMap((key): [string, string | Record<string, unknown>][] => {
    const target = map[key]
    if (typeof target === 'string' || (typeof target === 'object' && target !== null)) {
      return [[key, target as string | Record<string, unknown>]]
    }
    return []
  })
}

/** The module specifiers `require()` and `import` accept for a package: its name and each subpath export. */
export function entrySpecifiers(manifest: PackageManifest): string[] {
  return exportEntries(manifest.exports)
    .map(([subpath]) => subpath)
    .filter((subpath) => !subpath.endsWith('.json') && !subpath.includes('*'))
    .map((subpath) => (subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`))
}
