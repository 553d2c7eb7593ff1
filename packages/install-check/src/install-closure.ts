import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { PackageManifest } from './published-packages.js'
import type { ReadmeSnippet } from './readme-snippets.js'
import type { LoadedModule } from './snippet-harness.js'

function installedManifest(nodeModules: string, name: string): PackageManifest | undefined {
  const file = join(nodeModules, name, 'package.json')
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as PackageManifest) : undefined
}

/**
 * Everything installing `roots` brings along: their dependencies, optional dependencies and
 * required peers (npm and pnpm install those), recursively. Optional peers are not followed:
 * a user gets one only by naming it.
 */
export function installClosure(nodeModules: string, roots: Iterable<string>): Set<string> {
  const closure = new Set<string>()
  const queue = [...roots]
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    if (closure.has(name)) continue
    closure.add(name)
    const manifest = installedManifest(nodeModules, name)
    if (manifest === undefined) continue
    const optionalPeers = manifest.peerDependenciesMeta ?? {}
    queue.push(
      ...Object.keys(manifest.dependencies ?? {}),
      ...Object.keys(manifest.optionalDependencies ?? {}),
      ...Object.keys(manifest.peerDependencies ?? {}).filter(
        (peer) => optionalPeers[peer]?.optional !== true,
      ),
    )
  }
  return closure
}

/** The peer dependencies, optional or not, of the given packages. */
export function peersOf(nodeModules: string, names: Iterable<string>): Set<string> {
  const peers = new Set<string>()
  for (const name of names) {
    for (const peer of Object.keys(installedManifest(nodeModules, name)?.peerDependencies ?? {}))
      peers.add(peer)
  }
  return peers
}

/**
 * Whether a load was of an optional peer of the package that imported it: that package uses it
 * when it is installed and works without it (the HNSW tier of `@engram/memory`), so whether to
 * install it is the user's choice.
 */
function isOptionalPeer(nodeModules: string, load: LoadedModule): boolean {
  if (load.from === undefined) return false
  return installedManifest(nodeModules, load.from)?.peerDependenciesMeta?.[load.pkg]?.optional === true
}

/** What is wrong with a snippet's install line, judged from the README alone. */
export function staticInstallProblems(snippet: ReadmeSnippet): string[] {
  if (snippet.installs === undefined) {
    return [
      `has no install line above it: put a \`\`\`sh block with "npm install ${snippet.imports.join(' ')}" right before it`,
    ]
  }
  const named = new Set(snippet.installs.map((spec) => spec.name))
  return snippet.imports
    .filter((pkg) => !named.has(pkg))
    .map((pkg) => `imports ${pkg}, which its install line (line ${snippet.installLine}) does not name`)
}

/**
 * What is wrong with a snippet's install line once it is installed (and, for a run, once it has
 * run): a package it loaded that the line neither names nor brings along (a driver core imports
 * by name), unless the importer declares it an optional peer, and a package the line names that the snippet neither imports,
 * loads, nor could need as a peer of what it uses. A block that is only compiled is checked for
 * neither (nothing ran), only for its imports, by `staticInstallProblems`.
 *
 * @param loads what the run loaded; `undefined` for a block that is only compiled
 */
export function installedInstallProblems(
  snippet: ReadmeSnippet,
  nodeModules: string,
  loads: readonly LoadedModule[] | undefined,
): string[] {
  if (snippet.installs === undefined) return []
  const named = snippet.installs.map((spec) => spec.name)
  const problems: string[] = []
  const chosen = (loads ?? []).filter((load) => isOptionalPeer(nodeModules, load)).map((load) => load.pkg)
  const closure = installClosure(nodeModules, [...named, ...chosen])
  for (const load of loads ?? []) {
    if (load.from === load.pkg || closure.has(load.pkg)) continue
    const by = load.from === undefined ? 'the snippet' : load.from
    problems.push(
      `loads ${load.pkg} (imported by ${by}) at run time, but its install line names neither it nor a package that depends on it`,
    )
  }
  // Only a run shows which drivers a default needs, so a block that is only compiled may name more.
  if (loads === undefined) return problems
  const used = new Set([...snippet.imports, ...loads.map((load) => load.pkg)])
  const peers = peersOf(nodeModules, used)
  for (const name of named) {
    if (used.has(name) || peers.has(name)) continue
    problems.push(
      `installs ${name}, which it neither imports nor loads, and which is no peer of what it uses`,
    )
  }
  return [...new Set(problems)]
}
