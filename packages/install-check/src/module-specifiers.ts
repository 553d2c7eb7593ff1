import ts from 'typescript'
import { packageName } from './package-name.js'

/**
 * Every module a TypeScript or JavaScript text names: static imports and re-exports (type-only
 * ones too), `import()` with a literal, `require()`, and `/// <reference types>`.
 */
export function moduleSpecifiers(code: string): string[] {
  const info = ts.preProcessFile(code, true, true)
  return [
    ...info.importedFiles.map((file) => file.fileName),
    ...info.typeReferenceDirectives.map((d) => d.fileName),
  ]
}

/** The packages a TypeScript or JavaScript text imports, sorted and without duplicates. */
export function importedPackages(code: string): string[] {
  const names = new Set<string>()
  for (const specifier of moduleSpecifiers(code)) {
    const name = packageName(specifier)
    if (name !== undefined) names.add(name)
  }
  return [...names].sort()
}
