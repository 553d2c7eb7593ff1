import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import {
  checkedReadmes,
  publishedPackages,
  readmeSnippets,
  relativeLinkProblems,
  snippetLabel,
  staticInstallProblems,
} from '../src/index.js'

// The checks that need no packing: fast, so a README mistake shows up before the long install.
const repoRoot = resolve(fileURLToPath(import.meta.url), '../../../..')
const published = publishedPackages(repoRoot)
const readmes = checkedReadmes(repoRoot)
const read = (path: string) => readFileSync(join(repoRoot, path), 'utf8')

describe('the published packages in the repository', () => {
  it('are every non-private package under packages/ and apps/', () => {
    expect(published.map((pkg) => pkg.name)).toContain('@engram/core')
    expect(published.map((pkg) => pkg.name)).toContain('@engram/cli')
    expect(published.map((pkg) => pkg.name)).not.toContain('@engram/install-check')
  })

  it.each(published.map((pkg) => pkg.dir))(
    '%s has a README and a LICENSE identical to the root one',
    (dir) => {
      expect(existsSync(join(repoRoot, dir, 'README.md'))).toBe(true)
      expect(read(`${dir}/LICENSE`)).toBe(read('LICENSE'))
    },
  )

  it.each(published.map((pkg) => pkg.dir))('%s/README.md links only to addresses that work on npm', (dir) => {
    expect(relativeLinkProblems(read(`${dir}/README.md`), dir)).toEqual([])
  })
})

describe('the TypeScript blocks of the READMEs', () => {
  const snippets = readmes.flatMap((readme) => readmeSnippets(readme, read(readme)))
  const names = new Set(published.map((pkg) => pkg.name))

  it('are found in the root README and in the package READMEs', () => {
    expect(snippets.filter((snippet) => snippet.readme === 'README.md').length).toBeGreaterThan(0)
    expect(new Set(snippets.map((snippet) => snippet.readme)).size).toBeGreaterThan(10)
  })

  it.each(snippets.map((snippet) => [snippetLabel(snippet), snippet] as const))(
    '%s has an install line naming every package it imports',
    (_label, snippet) => {
      const problems = [...(snippet.badMarker ? [snippet.badMarker] : []), ...staticInstallProblems(snippet)]
      for (const spec of snippet.installs ?? []) {
        if (spec.name.startsWith('@engram/') && !names.has(spec.name)) {
          problems.push(`installs ${spec.name}, which is not a published package`)
        }
      }
      expect(problems).toEqual([])
    },
  )
})

describe('links between the repository documents', () => {
  const readmesOf = (group: string) =>
    readdirSync(join(repoRoot, group))
      .map((name) => `${group}/${name}/README.md`)
      .filter((path) => existsSync(join(repoRoot, path)))
  const documents = [
    'README.md',
    ...readdirSync(join(repoRoot, 'docs'))
      .filter((file) => file.endsWith('.md'))
      .map((file) => `docs/${file}`),
    ...readmesOf('packages'),
    ...readmesOf('apps'),
  ]
  it.each(documents)('%s links only to files that exist', (document) => {
    const prose = read(document).replace(/^ {0,3}(`{3,}|~{3,})[\s\S]*?^ {0,3}\1\s*$/gm, '')
    const broken = [...prose.matchAll(/\]\(\s*<?([^)\s>]+)>?[^)]*\)/g)]
      .map((match) => match[1] ?? '')
      .filter((target) => !target.startsWith('#') && !/^[a-z][a-z0-9+.-]*:/i.test(target))
      .filter(
        (target) =>
          !existsSync(resolve(repoRoot, dirname(document), decodeURIComponent(target.split('#')[0] ?? ''))),
      )
    expect(broken).toEqual([])
  })
})
