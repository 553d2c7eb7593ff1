import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { cleanEnv } from './clean-env.js'
import { outputTail, runCommand } from './run-command.js'

/** A package packed by `packWorkspace`. */
export interface PackedPackage {
  /** The package's name. */
  readonly name: string
  /** The tarball's absolute path. */
  readonly tarball: string
}

/**
 * The command that runs the workspace's pnpm: the one running this process when there is one
 * (`pnpm test`), else the version the root package.json's `packageManager` names, through npx.
 */
export function pnpmCommand(repoRoot: string): { command: string; args: string[] } {
  const running = process.env.npm_execpath
  if (running !== undefined && /pnpm/.test(running) && /\.c?js$/.test(running)) {
    return { command: process.execPath, args: [running] }
  }
  const root = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { packageManager?: string }
  const pinned = /^pnpm@[\w.-]+$/.test(root.packageManager ?? '') ? root.packageManager : 'pnpm@10'
  return { command: 'npx', args: ['-y', pinned ?? 'pnpm@10'] }
}

/**
 * Packs the named workspace packages with `pnpm pack` (which turns `workspace:` ranges into the
 * versions a registry would see) into `destination`, from their current `dist/`.
 */
export async function packWorkspace(
  repoRoot: string,
  names: readonly string[],
  destination: string,
): Promise<PackedPackage[]> {
  const pnpm = pnpmCommand(repoRoot)
  const filters = names.flatMap((name) => ['--filter', name])
  const result = await runCommand(
    pnpm.command,
    [...pnpm.args, '-r', ...filters, 'pack', '--pack-destination', destination, '--json'],
    { cwd: repoRoot, env: cleanEnv(repoRoot), timeoutMs: 180_000 },
  )
  if (result.code !== 0) {
    // pnpm resolves workspace: ranges through the packages' node_modules links.
    const stale = /ERR_PNPM_CANNOT_RESOLVE_WORKSPACE_PROTOCOL/.test(result.stdout + result.stderr)
      ? ' A package.json names a workspace package its node_modules does not link yet: run pnpm install.'
      : ''
    throw new Error(`pnpm pack failed (exit ${result.code}).${stale}\n${outputTail(result)}`)
  }
  const packed = names.map((name) => {
    const file = `${name.replace(/^@/, '').replace('/', '-')}-`
    const tarball = readdirSync(destination).find(
      (entry) => entry.startsWith(file) && /^\d/.test(entry.slice(file.length)),
    )
    if (tarball === undefined) throw new Error(`pnpm pack wrote no tarball for ${name} into ${destination}`)
    return { name, tarball: join(destination, tarball) }
  })
  return packed
}
