import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { InstallSpec } from './install-line.js'
import type { PackedPackage } from './pack-workspace.js'
import { type CommandResult, outputTail, runCommand } from './run-command.js'

/**
 * The compiler options of the fresh app: the strict settings a new TypeScript project on Node
 * starts from (`tsc --init` in 5.9 and the Node guides), and no `skipLibCheck`, so every
 * declaration file a package ships is checked as a consumer's compiler sees it.
 */
export const STRICT_CONSUMER_OPTIONS = {
  target: 'ES2022',
  module: 'NodeNext',
  moduleResolution: 'NodeNext',
  strict: true,
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  verbatimModuleSyntax: true,
  isolatedModules: true,
  moduleDetection: 'force',
  noUncheckedSideEffectImports: true,
  types: ['node'],
  rootDir: 'snippets',
  outDir: 'out',
} as const

/** What the fresh app is made of. */
export interface FreshAppOptions {
  /** An empty folder outside the repository. */
  readonly dir: string
  /** The workspace's packages, installed from their tarballs (also for every dependency on them). */
  readonly tarballs: readonly PackedPackage[]
  /** Other packages the READMEs install, taken from the registry. */
  readonly registry: readonly InstallSpec[]
}

/**
 * Writes a new app's package.json (`"type": "module"`) and tsconfig.json. Every engram package
 * comes from its tarball, and `overrides` makes every dependency on one of them use that
 * tarball too, so nothing named `@engram/…` is ever fetched from a registry.
 */
export function writeFreshApp(options: FreshAppOptions): void {
  const local = Object.fromEntries(options.tarballs.map((pkg) => [pkg.name, `file:${pkg.tarball}`]))
  const fromRegistry = Object.fromEntries(options.registry.map((spec) => [spec.name, spec.range ?? '*']))
  const manifest = {
    name: 'engram-first-hour',
    version: '1.0.0',
    private: true,
    type: 'module',
    dependencies: sortKeys({ ...fromRegistry, ...local }),
    overrides: local,
  }
  mkdirSync(join(options.dir, 'snippets'), { recursive: true })
  writeFileSync(join(options.dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)
  const tsconfig = { compilerOptions: STRICT_CONSUMER_OPTIONS, include: ['snippets'] }
  writeFileSync(join(options.dir, 'tsconfig.json'), `${JSON.stringify(tsconfig, null, 2)}\n`)
}

/** Runs `npm install` in the fresh app; throws with npm's output when it fails. */
export async function npmInstall(dir: string, env: NodeJS.ProcessEnv): Promise<CommandResult> {
  const result = await runCommand(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=warn'],
    {
      cwd: dir,
      env: { ...env, npm_config_update_notifier: 'false' },
      timeoutMs: 600_000,
    },
  )
  if (result.code !== 0) {
    throw new Error(
      `npm install of the packed packages failed (exit ${result.code}):\n${outputTail(result, 60)}`,
    )
  }
  return result
}

function sortKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)))
}
