import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cleanEnv } from './clean-env.js'
import { APP_PROJECTS, npmInstall, writeFreshApp } from './fresh-app.js'
import type { InstallSpec } from './install-line.js'
import { entrySpecifiers } from './manifest-problems.js'
import { type PackedPackage, packWorkspace } from './pack-workspace.js'
import { listFiles } from './packed-files-problems.js'
import type { PackageManifest, PublishedPackage } from './published-packages.js'
import { type ReadmeSnippet, snippetFileStem } from './readme-snippets.js'
import { type CommandResult, outputTail, runCommand } from './run-command.js'
import { type LoadedModule, readLoads, writeHarness } from './snippet-harness.js'
import { type TypecheckResult, typecheckApp } from './typecheck.js'

/** A published package as packed: its tarball, unpacked, and the manifest inside it. */
export interface UnpackedPackage extends PackedPackage {
  /** Its folder in the repository. */
  readonly dir: string
  /** The tarball's contents, unpacked (the `package/` folder). */
  readonly unpacked: string
  /** The tarball's files, relative to `package/`. */
  readonly files: readonly string[]
  /** The package.json inside the tarball. */
  readonly manifest: PackageManifest
}

/** A fresh app outside the repository with every published package installed from its tarball. */
export interface FirstHourApp {
  /** The temporary folder holding the tarballs, the unpacked packages and the app. */
  readonly root: string
  /** The app. */
  readonly dir: string
  /** Its `node_modules`. */
  readonly nodeModules: string
  /** The published packages, packed and unpacked. */
  readonly packages: readonly UnpackedPackage[]
  /** The strict consumer's compiler run over every snippet and every package's entry points, without `skipLibCheck`. */
  readonly typecheck: TypecheckResult
  /** The compiler run over the snippets with the options `tsc --init` writes. */
  readonly initTypecheck: TypecheckResult
  /** The environment every command in the app runs with. */
  readonly env: NodeJS.ProcessEnv
  /** Milliseconds each step took: pack, install, typecheck. */
  readonly timings: Readonly<Record<string, number>>
  /** The harness that runs a compiled snippet. */
  readonly harness: { readonly register: string; readonly run: string }
}

/** The file holding the type-only import of every published entry point. */
export const EVERY_PACKAGE_FILE = 'snippets/every-package.ts'

/** The packages from the registry every snippet needs to be compiled: the repository's own TypeScript and Node types. */
function toolchain(repoRoot: string): InstallSpec[] {
  const root = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as PackageManifest
  return ['typescript', '@types/node'].map((name) => ({ name, range: root.devDependencies?.[name] ?? '*' }))
}

/**
 * Packs every published package, unpacks each tarball, writes a fresh app with every README
 * snippet as its own file, installs the tarballs (and their third-party dependencies from the
 * registry) with npm, and type-checks the app.
 */
export async function buildFirstHourApp(
  repoRoot: string,
  published: readonly PublishedPackage[],
  snippets: readonly ReadmeSnippet[],
): Promise<FirstHourApp> {
  const root = mkdtempSync(join(tmpdir(), 'engram-first-hour-'))
  try {
    return await build(root, repoRoot, published, snippets)
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    throw new Error(`${message}\n(the packed packages and the app are kept in ${root} for a look)`, {
      cause: error,
    })
  }
}

async function build(
  root: string,
  repoRoot: string,
  published: readonly PublishedPackage[],
  snippets: readonly ReadmeSnippet[],
): Promise<FirstHourApp> {
  const dir = join(root, 'app')
  const env = cleanEnv(repoRoot)
  const timings: Record<string, number> = {}
  let started = performance.now()
  const tarballDir = join(root, 'tarballs')
  mkdirSync(tarballDir)
  const packed = await packWorkspace(
    repoRoot,
    published.map((pkg) => pkg.name),
    tarballDir,
  )
  const packages: UnpackedPackage[] = []
  for (const pkg of packed) {
    const unpacked = join(root, 'unpacked', pkg.name.replace('/', '+'))
    mkdirSync(unpacked, { recursive: true })
    await mustRun('tar', ['-xzf', pkg.tarball, '-C', unpacked, '--strip-components=1'], root, env)
    const manifest = JSON.parse(readFileSync(join(unpacked, 'package.json'), 'utf8')) as PackageManifest
    const source = published.find((candidate) => candidate.name === pkg.name)
    packages.push({ ...pkg, dir: source?.dir ?? '', unpacked, files: listFiles(unpacked), manifest })
  }
  timings.pack = Math.round(performance.now() - started)

  const registry = new Map<string, InstallSpec>()
  for (const spec of [...snippets.flatMap((snippet) => snippet.installs ?? []), ...toolchain(repoRoot)]) {
    if (!spec.name.startsWith('@engram/') && !registry.has(spec.name)) registry.set(spec.name, spec)
  }
  mkdirSync(dir)
  writeFreshApp({ dir, tarballs: packed, registry: [...registry.values()] })
  for (const snippet of snippets) {
    // A trailing export makes every block a module of its own, whatever it contains.
    writeFileSync(join(dir, 'snippets', `${snippetFileStem(snippet)}.ts`), `${snippet.code}\nexport {}\n`)
  }
  const entries = packages.flatMap((pkg) => entrySpecifiers(pkg.manifest))
  writeFileSync(
    join(dir, EVERY_PACKAGE_FILE),
    entries.map((specifier, i) => `import type * as entry${i} from '${specifier}'\n`).join(''),
  )
  const harness = writeHarness(dir)

  started = performance.now()
  await npmInstall(dir, env)
  timings.install = Math.round(performance.now() - started)
  started = performance.now()
  const [typecheck, initTypecheck] = await Promise.all([
    typecheckApp(dir, env, APP_PROJECTS.strict),
    typecheckApp(dir, env, APP_PROJECTS.init),
  ])
  timings.typecheck = Math.round(performance.now() - started)
  const nodeModules = join(dir, 'node_modules')
  return { root, dir, nodeModules, packages, typecheck, initTypecheck, env, timings, harness }
}

/** Deletes the app and everything packed for it. */
export function removeFirstHourApp(app: Pick<FirstHourApp, 'root'>): void {
  rmSync(app.root, { recursive: true, force: true })
}

/** How one snippet ran. */
export interface SnippetRun {
  /** The process's exit code and output. */
  readonly result: CommandResult
  /** The packages it loaded. */
  readonly loads: readonly LoadedModule[]
}

/**
 * Runs a compiled snippet with Node in a folder of its own (where its SQLite files land), with
 * `DATABASE_URL` pointing at the test PostgreSQL.
 */
export async function runSnippet(
  app: FirstHourApp,
  snippet: ReadmeSnippet,
  databaseUrl: string,
  timeoutMs = 120_000,
): Promise<SnippetRun> {
  const stem = snippetFileStem(snippet)
  const cwd = join(app.dir, 'runs', stem)
  mkdirSync(cwd, { recursive: true })
  const loadsFile = join(app.dir, 'runs', `${stem}.loads`)
  const result = await runCommand(
    process.execPath,
    ['--import', app.harness.register, app.harness.run, join(app.dir, 'out', `${stem}.js`)],
    { cwd, env: { ...app.env, DATABASE_URL: databaseUrl, ENGRAM_CHECK_LOADS: loadsFile }, timeoutMs },
  )
  return { result, loads: readLoads(loadsFile) }
}

/** What `require()` of each entry point from a CommonJS file gave: `undefined` when it worked, else the error. */
export async function requireEveryEntry(
  app: FirstHourApp,
  specifiers: readonly string[],
): Promise<Map<string, string | undefined>> {
  const file = join(app.dir, 'require-every-entry.cjs')
  writeFileSync(
    file,
    `const results = {}
for (const specifier of ${JSON.stringify(specifiers)}) {
  try {
    require(specifier)
    results[specifier] = null
  } catch (error) {
    results[specifier] = (error.code ? error.code + ': ' : '') + error.message
  }
}
console.log(JSON.stringify(results))
`,
  )
  const result = await mustRun(process.execPath, [file], app.dir, app.env)
  const parsed = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as Record<string, string | null>
  return new Map(specifiers.map((specifier) => [specifier, parsed[specifier] ?? undefined]))
}

async function mustRun(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<CommandResult> {
  const result = await runCommand(command, args, { cwd, env, timeoutMs: 120_000 })
  if (result.code !== 0)
    throw new Error(`${command} ${args.join(' ')} failed (exit ${result.code}):\n${outputTail(result)}`)
  return result
}
