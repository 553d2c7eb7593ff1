import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  entrySpecifiers,
  installClosure,
  installedInstallProblems,
  manifestProblems,
  type PackageManifest,
  readmeSnippets,
  sourceMapProblems,
  typesPackage,
  undeclaredImportProblems,
} from '../src/index.js'

const folders: string[] = []
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true })
})

/** A folder with the given files (path → content), removed after the test. */
function folderWith(files: Record<string, string | object>): string {
  const dir = mkdtempSync(join(tmpdir(), 'install-check-test-'))
  folders.push(dir)
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), typeof content === 'string' ? content : JSON.stringify(content))
  }
  return dir
}

const complete: PackageManifest = {
  name: '@engram/x',
  version: '0.1.0',
  license: 'MIT',
  main: './dist/index.js',
  types: './dist/index.d.ts',
  bin: { x: './dist/main.js' },
  exports: {
    '.': { types: './dist/index.d.ts', import: './dist/index.js', default: './dist/index.js' },
    './register': { types: './dist/register.d.ts', default: './dist/register.js' },
    './package.json': './package.json',
  },
  repository: { type: 'git', url: 'git+https://github.com/engram/engram.git', directory: 'packages/x' },
  homepage: 'https://github.com/engram/engram/tree/main/packages/x#readme',
  bugs: { url: 'https://github.com/engram/engram/issues' },
}
const shipped = [
  'LICENSE',
  'README.md',
  'package.json',
  'dist/index.js',
  'dist/index.d.ts',
  'dist/main.js',
  'dist/register.js',
  'dist/register.d.ts',
]

describe('manifestProblems', () => {
  it('finds nothing wrong with a complete package', () => {
    expect(manifestProblems(complete, shipped, 'packages/x')).toEqual([])
  })

  it('reports files that exports, main, types and bin point to but the tarball lacks', () => {
    const files = shipped.filter(
      (file) => !['dist/index.d.ts', 'dist/main.js', 'dist/register.js'].includes(file),
    )
    expect(manifestProblems(complete, files, 'packages/x')).toEqual([
      'types points to ./dist/index.d.ts, which the tarball does not contain',
      'bin.x points to ./dist/main.js, which the tarball does not contain',
      'exports["."].types points to ./dist/index.d.ts, which the tarball does not contain',
      'exports["./register"].default points to ./dist/register.js, which the tarball does not contain',
    ])
  })

  it('reports an export that require() cannot load, and missing LICENSE and repository links', () => {
    const manifest: PackageManifest = {
      name: '@engram/x',
      version: '0.1.0',
      license: 'MIT',
      exports: { '.': { types: './dist/index.d.ts', import: './dist/index.js' } },
    }
    expect(
      manifestProblems(manifest, ['dist/index.js', 'dist/index.d.ts', 'README.md'], 'packages/x'),
    ).toEqual([
      `exports["."] has no "default" (or "require") condition, so require('@engram/x') fails with ERR_PACKAGE_PATH_NOT_EXPORTED`,
      'the tarball has no LICENSE',
      'repository is undefined, expected { "type": "git", "url": "git+https://github.com/engram/engram.git", "directory": "packages/x" }',
      'homepage is missing or not under https://github.com/engram/engram',
      'bugs is missing or not under https://github.com/engram/engram',
    ])
  })

  it('lists the specifiers require() and import accept: the name and each subpath, not package.json', () => {
    expect(entrySpecifiers(complete)).toEqual(['@engram/x', '@engram/x/register'])
    expect(
      entrySpecifiers({ name: 'y', version: '1.0.0', exports: { import: './a.js', default: './a.js' } }),
    ).toEqual(['y'])
  })
})

describe('sourceMapProblems', () => {
  it('accepts maps whose sources are in the package and reports those that are not', () => {
    const dir = folderWith({
      'src/index.ts': 'export const a = 1',
      'dist/index.js.map': { version: 3, sources: ['../src/index.ts'], mappings: '' },
      'dist/other.js.map': { version: 3, sources: ['../src/other.ts'], mappings: '' },
      'dist/outside.js.map': { version: 3, sources: ['../../elsewhere/index.ts'], mappings: '' },
    })
    expect(sourceMapProblems(dir)).toEqual([
      'dist/other.js.map maps to ../src/other.ts, which the package does not contain',
      'dist/outside.js.map maps to ../../elsewhere/index.ts, which the package does not contain',
    ])
  })
})

describe('undeclaredImportProblems', () => {
  const manifest: PackageManifest = {
    name: '@engram/x',
    version: '0.1.0',
    dependencies: { pg: '^8', typed: '^1' },
    peerDependencies: { '@engram/core': '^0.1.0' },
    devDependencies: { vitest: '^4', '@types/pg': '^8' },
  }

  it('reports bare imports of packages the package does not declare, naming devDependencies', () => {
    const dir = folderWith({
      'dist/index.js':
        "import '@engram/core'\nimport 'pg'\nimport 'node:fs'\nimport './local.js'\nimport 'left-pad'",
      'dist/index.d.ts': "import type { Suite } from 'vitest'\nimport type { X } from '@engram/x/sub'",
    })
    expect(undeclaredImportProblems(dir, manifest)).toEqual([
      'dist/index.d.ts imports vitest, but @engram/x does not declare vitest (it is only a devDependency)',
      'dist/index.js imports left-pad, but @engram/x does not declare left-pad',
    ])
  })

  it('reports a declaration import of a package without types whose @types package is not declared', () => {
    const dir = folderWith({
      'dist/index.d.ts': "import type { Pool } from 'pg'\nimport type { T } from 'typed'",
    })
    const nodeModules = folderWith({
      'pg/package.json': { name: 'pg', version: '8.0.0', main: 'index.js' },
      'typed/package.json': { name: 'typed', version: '1.0.0', types: 'index.d.ts' },
    })
    expect(undeclaredImportProblems(dir, manifest, nodeModules)).toEqual([
      'dist/index.d.ts imports pg, whose types come from @types/pg, but @engram/x does not declare @types/pg (it is only a devDependency)',
    ])
    expect(typesPackage('@scope/name')).toBe('@types/scope__name')
  })
})

describe('installedInstallProblems', () => {
  const nodeModules = () =>
    folderWith({
      '@engram/memory/package.json': {
        name: '@engram/memory',
        version: '0.1.0',
        dependencies: { '@engram/core': '^0.1.0', '@engram/sqlite-vector': '^0.1.0' },
        peerDependencies: { '@engram/hnsw-sidecar': '^0.1.0', '@engram/postgres': '^0.1.0' },
        peerDependenciesMeta: {
          '@engram/hnsw-sidecar': { optional: true },
          '@engram/postgres': { optional: true },
        },
      },
      '@engram/hnsw-sidecar/package.json': {
        name: '@engram/hnsw-sidecar',
        version: '0.1.0',
        dependencies: { 'hnswlib-node': '3.0.0' },
      },
      '@engram/sqlite-vector/package.json': {
        name: '@engram/sqlite-vector',
        version: '0.1.0',
        peerDependencies: { '@engram/core': '^0.1.0' },
      },
      '@engram/sqlite-native/package.json': {
        name: '@engram/sqlite-native',
        version: '0.1.0',
        dependencies: { 'better-sqlite3': '^12' },
        peerDependencies: { '@engram/core': '^0.1.0' },
      },
      'better-sqlite3/package.json': {
        name: 'better-sqlite3',
        version: '12.0.0',
        dependencies: { bindings: '^1' },
      },
    })
  const fence = '```'
  const snippet = (install: string) =>
    readmeSnippets(
      'README.md',
      `${fence}sh\n${install}\n${fence}\n${fence}ts\nimport { Memory } from '@engram/memory'\n${fence}`,
    )[0]!

  it('follows dependencies and required peers, but not optional peers', () => {
    expect([...installClosure(nodeModules(), ['@engram/memory'])].sort()).toEqual([
      '@engram/core',
      '@engram/memory',
      '@engram/sqlite-vector',
    ])
  })

  it('accepts a line that names what the run loaded and the optional peers of what it uses', () => {
    const loads = [
      { pkg: '@engram/memory' },
      { from: '@engram/memory', pkg: '@engram/sqlite-vector' },
      { from: '@engram/core', pkg: '@engram/sqlite-native' },
      { from: '@engram/sqlite-native', pkg: 'better-sqlite3' },
      { from: 'better-sqlite3', pkg: 'bindings' },
    ]
    const line = snippet('npm install @engram/memory @engram/sqlite-native @engram/hnsw-sidecar')
    expect(installedInstallProblems(line, nodeModules(), loads)).toEqual([])
  })

  it('reports a driver the run loaded that the line does not bring, and a package nothing uses', () => {
    const loads = [{ pkg: '@engram/memory' }, { from: '@engram/core', pkg: '@engram/sqlite-native' }]
    const line = snippet('npm install @engram/memory left-pad')
    expect(installedInstallProblems(line, nodeModules(), loads)).toEqual([
      'loads @engram/sqlite-native (imported by @engram/core) at run time, but its install line names neither it nor a package that depends on it',
      'installs left-pad, which it neither imports nor loads, and which is no peer of what it uses',
    ])
  })

  it('accepts an optional peer the run loaded only because it was installed', () => {
    const loads = [
      { pkg: '@engram/memory' },
      { from: '@engram/core', pkg: '@engram/sqlite-native' },
      { from: '@engram/memory', pkg: '@engram/hnsw-sidecar' },
      { from: '@engram/hnsw-sidecar', pkg: '@engram/hnsw-sidecar' },
      { from: '@engram/hnsw-sidecar', pkg: 'hnswlib-node' },
    ]
    expect(
      installedInstallProblems(
        snippet('npm install @engram/memory @engram/sqlite-native'),
        nodeModules(),
        loads,
      ),
    ).toEqual([])
  })

  it('leaves a block that is only compiled to the static check: nothing ran to show what it needs', () => {
    expect(
      installedInstallProblems(snippet('npm install @engram/memory left-pad'), nodeModules(), undefined),
    ).toEqual([])
  })
})
