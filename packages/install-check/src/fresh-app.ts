import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { InstallSpec } from './install-line.js'
import type { PackedPackage } from './pack-workspace.js'
import { type CommandResult, outputTail, runCommand } from './run-command.js'

/**
 * The compiler options of the fresh app's main project (`tsconfig.json`): strict, NodeNext, and
 * no `skipLibCheck`, so every declaration file a package ships is checked as a consumer's
 * compiler sees it. It emits the JavaScript the runs use.
 */
export const STRICT_CONSUMER_OPTIONS = {
  target: 'ES2022',
  module: 'NodeNext',
  moduleResolution: 'NodeNext',
  strict: true,
  noUncheckedIndexedAccess: true,
  verbatimModuleSyntax: true,
  isolatedModules: true,
  moduleDetection: 'force',
  noUncheckedSideEffectImports: true,
  types: ['node'],
  rootDir: 'snippets',
  outDir: 'out',
} as const

/**
 * The options `tsc --init` (TypeScript 5.9) writes for a new project, with Node's types
 * (`tsconfig.init.json`). They add `exactOptionalPropertyTypes`, under which
 * `{ connectionString: process.env.DATABASE_URL }` does not compile, and keep the
 * `skipLibCheck` that `tsc --init` turns on; the snippets must compile here too.
 */
export const TSC_INIT_OPTIONS = {
  module: 'nodenext',
  target: 'esnext',
  types: ['node'],
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  strict: true,
  verbatimModuleSyntax: true,
  isolatedModules: true,
  noUncheckedSideEffectImports: true,
  moduleDetection: 'force',
  skipLibCheck: true,
  noEmit: true,
} as const

/** The fresh app's two TypeScript projects: the strict consumer's, and the one `tsc --init` makes. */
export const APP_PROJECTS = { strict: 'tsconfig.json', init: 'tsconfig.init.json' } as const

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
 * Writes a new app's package.json (`"type": "module"`) and its two TypeScript projects. Every engram package
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
  for (const [file, compilerOptions] of [
    [APP_PROJECTS.strict, STRICT_CONSUMER_OPTIONS],
    [APP_PROJECTS.init, TSC_INIT_OPTIONS],
  ] as const) {
    writeFileSync(
      join(options.dir, file),
      `${JSON.stringify({ compilerOptions, include: ['snippets'] }, null, 2)}\n`,
    )
  }
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
