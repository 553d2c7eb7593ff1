import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  buildFirstHourApp,
  checkedReadmes,
  type Diagnostic,
  EVERY_PACKAGE_FILE,
  entrySpecifiers,
  type FirstHourApp,
  installedInstallProblems,
  manageSchemas,
  manifestProblems,
  outputTail,
  publishedPackages,
  type ReadmeSnippet,
  readmeSnippets,
  removeFirstHourApp,
  requireEveryEntry,
  runCommand,
  runFailure,
  runSnippet,
  type SnippetRun,
  snippetFileStem,
  snippetLabel,
  snippetTitle,
  snippetVerdict,
  sourceMapProblems,
  staticInstallProblems,
  testPostgresUrl,
  undeclaredImportProblems,
  urlWithSchema,
} from '../src/index.js'

// The whole first hour of a new user, from the packed tarballs: one fresh app for this file,
// built in beforeAll (pack, npm install with native builds, tsc), then one test per check.
const repoRoot = resolve(fileURLToPath(import.meta.url), '../../../..')
const published = publishedPackages(repoRoot)
const snippets: ReadmeSnippet[] = checkedReadmes(repoRoot).flatMap((readme) =>
  readmeSnippets(readme, readFileSync(join(repoRoot, readme), 'utf8')),
)
const keep = process.env.ENGRAM_INSTALL_CHECK_KEEP === '1'
const postgresUrl = testPostgresUrl()
const schemaPrefix = `engram_first_hour_${process.pid}_${Date.now().toString(36)}`
const usesPostgres = (snippet: ReadmeSnippet) =>
  snippet.mode !== 'compile-only' && snippet.code.includes('DATABASE_URL')
const schemaOf = (snippet: ReadmeSnippet) => `${schemaPrefix}_${snippetFileStem(snippet).replace(/-/g, '_')}`

let app: FirstHourApp
let schemas: string[] = []
let required: Promise<Map<string, string | undefined>> | undefined

beforeAll(async () => {
  app = await buildFirstHourApp(repoRoot, published, snippets)
  const wanted = snippets.filter(usesPostgres).map(schemaOf)
  if (wanted.length > 0) {
    await manageSchemas(app.dir, app.env, 'create', postgresUrl, wanted)
    schemas = wanted
  }
  const { pack = 0, install = 0, typecheck = 0 } = app.timings
  console.info(
    `install check: packed ${app.packages.length} packages in ${pack} ms, npm install took ${install} ms, tsc ${typecheck} ms (${app.dir})`,
  )
}, 900_000)

afterAll(async () => {
  if (app === undefined) return
  if (schemas.length > 0) await manageSchemas(app.dir, app.env, 'drop', postgresUrl, schemas)
  if (keep) console.info(`install check: kept ${app.root}`)
  else removeFirstHourApp(app)
}, 120_000)

const packageOf = (name: string) => {
  const pkg = app.packages.find((candidate) => candidate.name === name)
  if (pkg === undefined) throw new Error(`${name} was not packed`)
  return pkg
}

describe('every published package, packed with pnpm', () => {
  const names = published.map((pkg) => pkg.name)

  it.each(names)(
    '%s ships what package.json points to, LICENSE, README and links to the repository',
    (name) => {
      const pkg = packageOf(name)
      expect(manifestProblems(pkg.manifest, pkg.files, pkg.dir)).toEqual([])
    },
  )

  it.each(names)('%s ships a LICENSE identical to the repository root one', (name) => {
    const pkg = packageOf(name)
    expect(readFileSync(join(pkg.unpacked, 'LICENSE'), 'utf8')).toBe(
      readFileSync(join(repoRoot, 'LICENSE'), 'utf8'),
    )
  })

  it.each(names)('%s has source maps that point at files inside the package', (name) => {
    expect(sourceMapProblems(packageOf(name).unpacked)).toEqual([])
  })

  it.each(names)('%s imports, in its code and declarations, only packages it declares', (name) => {
    const pkg = packageOf(name)
    expect(undeclaredImportProblems(pkg.unpacked, pkg.manifest, app.nodeModules)).toEqual([])
  })

  it.each(names)('%s can be require()d from a CommonJS file', async (name) => {
    const specifiers = app.packages.flatMap((pkg) => entrySpecifiers(pkg.manifest))
    required ??= requireEveryEntry(app, specifiers)
    const results = await required
    const failures = entrySpecifiers(packageOf(name).manifest)
      .map((specifier) => [specifier, results.get(specifier)] as const)
      .filter(([, error]) => error !== undefined)
      .map(([specifier, error]) => `require('${specifier}'): ${error}`)
    expect(failures).toEqual([])
  })

  it("type-checks every package's declarations in a strict app without skipLibCheck", () => {
    const outside = app.typecheck.diagnostics
      .filter((d) => !d.file.startsWith('snippets/') || d.file === EVERY_PACKAGE_FILE)
      .map((d) => `${d.file}(${d.line},${d.column}): ${d.text}`)
    expect(outside).toEqual([])
  })

  it('runs the engram command from the installed bin', async () => {
    const result = await runCommand(join(app.nodeModules, '.bin', 'engram'), ['--help'], {
      cwd: app.dir,
      env: app.env,
      timeoutMs: 60_000,
    })
    expect(result.code, outputTail(result)).toBe(0)
    expect(result.stdout).toMatch(/migrate/)
  })
})

describe('every TypeScript block of the READMEs, in a fresh app outside the repository', () => {
  const titled = new Map(
    snippets.map((snippet) => [snippetTitle(snippet), { ...snippet, label: snippetLabel(snippet) }]),
  )
  it.each([...titled.keys()])(
    '%s',
    async (title) => {
      const snippet = titled.get(title)!
      const stem = snippetFileStem(snippet)
      const problems = [...(snippet.badMarker ? [snippet.badMarker] : []), ...staticInstallProblems(snippet)]
      const compiled = (diagnostics: readonly Diagnostic[], project: string) =>
        diagnostics
          .filter((d) => d.file === `snippets/${stem}.ts`)
          .map((d) => `does not compile${project}: README line ${snippet.line + d.line}: ${d.text}`)
      const failures = [
        ...compiled(app.typecheck.diagnostics, ''),
        ...compiled(app.initTypecheck.diagnostics, ' with the options tsc --init writes'),
      ]
      let run: SnippetRun | undefined
      if (snippet.mode !== 'compile-only' && failures.length === 0) {
        const url = usesPostgres(snippet) ? urlWithSchema(postgresUrl, schemaOf(snippet)) : postgresUrl
        run = await runSnippet(app, snippet, url)
        const failure = runFailure(run.result)
        if (failure !== undefined) failures.push(`fails when run: ${failure}`)
      }
      if (snippet.mode === 'expected-to-fail' && failures.length > 0) {
        console.info(
          `install check: ${snippet.label} fails as expected (${snippet.reason}): ${failures[0]?.split('\n')[0]}`,
        )
      } else {
        problems.push(...installedInstallProblems(snippet, app.nodeModules, run?.loads))
      }
      expect(snippetVerdict(snippet, failures, problems), snippet.label).toEqual([])
    },
    180_000,
  )
})
