import { describe, expect, it } from 'vitest'
import {
  absoluteLink,
  importedPackages,
  installedPackages,
  markdownBlocks,
  packageName,
  parseDiagnostics,
  readmeSnippets,
  relativeLinkProblems,
  snippetFileStem,
  snippetLabel,
  staticInstallProblems,
} from '../src/index.js'

const fence = '```'

describe('markdownBlocks', () => {
  it('reads each fenced block with its language, code and the line of its opening fence', () => {
    const blocks = markdownBlocks(
      `# Title\n\n${fence}sh\nnpm install x\n${fence}\n\ntext\n\n${fence}ts title="a"\nconst a = 1\n\nconst b = 2\n${fence}\n`,
    )
    expect(blocks).toEqual([
      { lang: 'sh', code: 'npm install x', line: 3 },
      { lang: 'ts', code: 'const a = 1\n\nconst b = 2', line: 9 },
    ])
  })

  it('reads tilde fences, longer fences that contain shorter ones, and indented fences', () => {
    const blocks = markdownBlocks(
      `~~~ts\nlet a\n~~~\n\n${fence}\`md\n${fence}ts\ninner\n${fence}\n${fence}\`\n\n  ${fence}ts\n  indented()\n  ${fence}\n`,
    )
    expect(blocks.map((block) => [block.lang, block.code])).toEqual([
      ['ts', 'let a'],
      ['md', `${fence}ts\ninner\n${fence}`],
      ['ts', 'indented()'],
    ])
  })

  it('attaches a check comment to the block right after it, across blank lines only', () => {
    const blocks = markdownBlocks(
      `<!-- check: compile-only (needs a phone) -->\n\n${fence}ts\na()\n${fence}\n<!-- check: expected-to-fail (memory gap) -->\nsome prose\n${fence}ts\nb()\n${fence}\n`,
    )
    expect(blocks[0]?.marker).toEqual({ mode: 'compile-only', reason: 'needs a phone' })
    expect(blocks[1]?.marker).toBeUndefined()
  })

  it('reports a check comment without a known mode or a reason', () => {
    const [noReason, unknown] = markdownBlocks(
      `<!-- check: compile-only -->\n${fence}ts\na()\n${fence}\n<!-- check: skip (why) -->\n${fence}ts\nb()\n${fence}\n`,
    )
    expect(noReason?.marker).toBeUndefined()
    expect(noReason?.badMarker).toMatch(/compile-only \(reason\)/)
    expect(unknown?.badMarker).toMatch(/check: skip/)
  })
})

describe('installedPackages', () => {
  it('reads npm, pnpm, yarn and bun commands, without flags and comments', () => {
    expect(
      installedPackages(
        'npm install @engram/core @engram/sqlite-native  # a laptop\npnpm add -D vitest\nyarn add sql.js\nbun add --exact pg',
      ).map((spec) => spec.name),
    ).toEqual(['@engram/core', '@engram/sqlite-native', 'vitest', 'sql.js', 'pg'])
  })

  it('splits versions off names, scoped or not', () => {
    expect(installedPackages('npm i fake-indexeddb@6 @aws-sdk/client-s3@^3.1 @engram/core')).toEqual([
      { name: 'fake-indexeddb', range: '6' },
      { name: '@aws-sdk/client-s3', range: '^3.1' },
      { name: '@engram/core' },
    ])
  })

  it('finds commands after && and ;, and ignores commands that install nothing by name', () => {
    expect(
      installedPackages('cd app && npm install a; pnpm add b\npnpm install\nnpx cap sync\nnpm run build'),
    ).toEqual([{ name: 'a' }, { name: 'b' }])
  })
})

describe('packageName and importedPackages', () => {
  it('names the package of a bare specifier, scoped or with a deep path and a query', () => {
    expect(packageName('@engram/indexeddb/register')).toBe('@engram/indexeddb')
    expect(packageName('sql.js/dist/sql-wasm-browser.wasm?url')).toBe('sql.js')
    expect(packageName('pg')).toBe('pg')
  })

  it('returns nothing for relative paths, URLs and Node built-ins', () => {
    for (const specifier of [
      './x.js',
      '../src/index.js',
      '/abs.js',
      'node:fs',
      'fs',
      'fs/promises',
      'https://x.io/a.js',
    ]) {
      expect(packageName(specifier), specifier).toBeUndefined()
    }
  })

  it('finds static, type-only and dynamic imports, re-exports and require calls', () => {
    const code = [
      "import { a } from 'alpha'",
      "import type { B } from '@scope/beta/sub'",
      "export { c } from 'gamma'",
      "const d = await import('delta')",
      "const e = require('epsilon')",
      "import { readFileSync } from 'node:fs'",
      "import './local.js'",
      'const text = \'import x from "not-an-import"\'',
    ].join('\n')
    expect(importedPackages(code)).toEqual(['@scope/beta', 'alpha', 'delta', 'epsilon', 'gamma'])
  })
})

describe('readmeSnippets', () => {
  const readme = [
    `${fence}sh\nnpm install @engram/core @engram/sqlite-native\n${fence}`,
    '',
    `${fence}ts\nimport { createDatabase } from '@engram/core'\n${fence}`,
    '',
    `${fence}ts\nimport { Memory } from '@engram/memory'\n${fence}`,
    '',
    `${fence}sh\nnpm install @engram/qdrant\n${fence}`,
    '<!-- check: compile-only (needs a Qdrant server) -->',
    `${fence}typescript\nimport { createQdrantVectorStore } from '@engram/qdrant'\n${fence}`,
    `${fence}json\n{ "a": 1 }\n${fence}`,
  ].join('\n')
  const snippets = readmeSnippets('packages/core/README.md', readme)

  it('numbers the TypeScript blocks and gives each the install line right above it', () => {
    expect(snippets.map((s) => [s.index, s.line, s.mode, s.installs?.map((spec) => spec.name)])).toEqual([
      [1, 5, 'run', ['@engram/core', '@engram/sqlite-native']],
      [2, 9, 'run', undefined],
      [3, 17, 'compile-only', ['@engram/qdrant']],
    ])
    expect(snippets[2]?.reason).toBe('needs a Qdrant server')
  })

  it('reports a block without an install line, and an import its install line does not name', () => {
    expect(staticInstallProblems(snippets[0]!)).toEqual([])
    expect(staticInstallProblems(snippets[1]!)).toEqual([
      'has no install line above it: put a ```sh block with "npm install @engram/memory" right before it',
    ])
    const missing = readmeSnippets(
      'README.md',
      `${fence}sh\nnpm install a\n${fence}\n${fence}ts\nimport 'a'\nimport 'b'\n${fence}`,
    )
    expect(staticInstallProblems(missing[0]!)).toEqual([
      'imports b, which its install line (line 1) does not name',
    ])
  })

  it('names a block by its README, number and line, and gives it a file name', () => {
    expect(snippetLabel(snippets[2]!)).toBe('packages/core/README.md block 3 (line 17)')
    expect(snippetFileStem(snippets[2]!)).toBe('packages-core-3')
    expect(snippetFileStem({ readme: 'README.md', index: 2 })).toBe('root-2')
  })
})

describe('relativeLinkProblems', () => {
  it('flags links that only work inside the repository and names the absolute address', () => {
    const readme =
      'See [the guide](../../docs/memory.md#recall), [the store](../sqlite-vector) and [a file](./src/x.ts).'
    expect(relativeLinkProblems(readme, 'packages/memory')).toEqual([
      'links to ../../docs/memory.md#recall, which is not in the published package: use https://github.com/engram/engram/blob/main/docs/memory.md#recall',
      'links to ../sqlite-vector, which is not in the published package: use https://github.com/engram/engram/tree/main/packages/sqlite-vector',
      'links to ./src/x.ts, which is not in the published package: use https://github.com/engram/engram/blob/main/packages/memory/src/x.ts',
    ])
  })

  it('accepts anchors, absolute addresses and links inside code blocks', () => {
    const readme = `[Cost](#cost), [docs](https://github.com/engram/engram/blob/main/docs/x.md)\n${fence}md\n[x](../y.md)\n${fence}\n`
    expect(relativeLinkProblems(readme, 'packages/sqljs')).toEqual([])
    expect(absoluteLink('../../docs/cli.md', 'apps/cli')).toBe(
      'https://github.com/engram/engram/blob/main/docs/cli.md',
    )
  })
})

describe('parseDiagnostics', () => {
  it('reads file, line, column and message, keeping continuation lines with their diagnostic', () => {
    const output = [
      "snippets/root-1.ts(3,7): error TS2345: Argument of type 'string | undefined' is not assignable.",
      "  Type 'undefined' is not assignable to type 'string'.",
      "node_modules/x/index.d.ts(1,1): error TS2307: Cannot find module 'pg'.",
    ].join('\n')
    expect(parseDiagnostics(output)).toEqual([
      {
        file: 'snippets/root-1.ts',
        line: 3,
        column: 7,
        text: "TS2345: Argument of type 'string | undefined' is not assignable.\n  Type 'undefined' is not assignable to type 'string'.",
      },
      { file: 'node_modules/x/index.d.ts', line: 1, column: 1, text: "TS2307: Cannot find module 'pg'." },
    ])
  })
})
