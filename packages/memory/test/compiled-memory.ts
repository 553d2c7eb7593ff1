import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const here = dirname(fileURLToPath(import.meta.url))

/**
 * This package's current source, compiled for a child Node process: every `src/*.ts` file
 * transpiled into a fresh folder under `test/` (so `@engram/*` resolve from this package), and
 * a function that removes the folder. Child processes run the code under test, never a stale build.
 */
export function compileMemorySource(): { folder: string; remove: () => void } {
  const folder = join(here, `.compiled-${process.pid}-${Math.random().toString(16).slice(2, 8)}`)
  mkdirSync(folder, { recursive: true })
  const source = join(here, '..', 'src')
  for (const file of readdirSync(source).filter((name) => name.endsWith('.ts'))) {
    const output = ts.transpileModule(readFileSync(join(source, file), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
    })
    writeFileSync(join(folder, file.replace(/\.ts$/, '.js')), output.outputText)
  }
  return { folder, remove: () => rmSync(folder, { recursive: true, force: true }) }
}
