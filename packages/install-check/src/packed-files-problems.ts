import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { moduleSpecifiers } from './module-specifiers.js'
import { packageName } from './package-name.js'
import type { PackageManifest } from './published-packages.js'

/** Every file under `dir`, as paths relative to it with `/` separators. */
export function listFiles(dir: string): string[] {
  const files: string[] = []
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name)
      if (entry.isDirectory()) walk(path)
      else files.push(relative(dir, path).split('\\').join('/'))
    }
  }
  walk(dir)
  return files.sort()
}

/**
 * Source maps in an unpacked package whose `sources` point at files the package does not
 * contain (a debugger or "go to definition" would find nothing there).
 */
export function sourceMapProblems(packageDir: string): string[] {
  const problems: string[] = []
  for (const file of listFiles(packageDir).filter((path) => path.endsWith('.map'))) {
    const map = JSON.parse(readFileSync(join(packageDir, file), 'utf8')) as {
      sources?: string[]
      sourceRoot?: string
    }
    for (const source of map.sources ?? []) {
      const target = resolve(packageDir, dirname(file), map.sourceRoot ?? '', source)
      const inside = !relative(packageDir, target).startsWith('..')
      if (!inside || !existsSync(target)) {
        problems.push(`${file} maps to ${source}, which the package does not contain`)
      }
    }
  }
  return problems
}

/**
 * Bare imports in an unpacked package's JavaScript and declaration files that name a package
 * it does not declare (in `dependencies`, `peerDependencies` or `optionalDependencies`). A
 * consumer installs only what is declared, so such an import fails for them, or, in a `.d.ts`,
 * fails their type check unless they turn on `skipLibCheck`.
 */
export function undeclaredImportProblems(
  packageDir: string,
  manifest: PackageManifest,
  nodeModules?: string,
): string[] {
  const declared = new Set([
    manifest.name,
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}),
    ...Object.keys(manifest.optionalDependencies ?? {}),
  ])
  const problems: string[] = []
  const code = listFiles(packageDir).filter(
    (path) => /\.(c|m)?js$|\.d\.(c|m)?ts$/.test(path) && !path.startsWith('src/'),
  )
  for (const file of code) {
    for (const specifier of moduleSpecifiers(readFileSync(join(packageDir, file), 'utf8'))) {
      const name = packageName(specifier)
      if (name === undefined || name.startsWith('@types/')) continue
      if (!declared.has(name)) {
        problems.push(
          `${file} imports ${specifier}, but ${manifest.name} does not declare ${name}${devNote(manifest, name)}`,
        )
        continue
      }
      const types = typesPackage(name)
      if (
        file.endsWith('.ts') &&
        nodeModules &&
        !declared.has(types) &&
        !shipsTypes(join(nodeModules, name))
      ) {
        problems.push(
          `${file} imports ${specifier}, whose types come from ${types}, but ${manifest.name} does not declare ${types}${devNote(manifest, types)}`,
        )
      }
    }
  }
  return [...new Set(problems)]
}

/** The DefinitelyTyped package for a package name: `@types/pg`, `@types/scope__name`. */
export function typesPackage(name: string): string {
  return `@types/${name.startsWith('@') ? name.slice(1).replace('/', '__') : name}`
}

function devNote(manifest: PackageManifest, name: string): string {
  return manifest.devDependencies?.[name] !== undefined ? ' (it is only a devDependency)' : ''
}

/** Whether an installed package brings its own declarations. */
function shipsTypes(packageDir: string): boolean {
  const file = join(packageDir, 'package.json')
  if (!existsSync(file)) return true
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as PackageManifest & { typings?: string }
  if (manifest.types !== undefined || manifest.typings !== undefined) return true
  if (JSON.stringify(manifest.exports ?? {}).includes('"types"')) return true
  return existsSync(join(packageDir, 'index.d.ts'))
}
