import { build } from 'esbuild'

/** Options for `bundle`. */
export interface BundleOptions {
  /** Replacements for global identifiers, as esbuild's `define`. */
  define?: Record<string, string>
  /** Module names left as imports instead of bundled. */
  external?: string[]
  /** Whether to minify. Default is `false`, so stack traces stay readable. */
  minify?: boolean
}

/**
 * Bundles one TypeScript or JavaScript entry and everything it imports into a single ES module
 * for the browser, in memory, with an inline source map. Packages resolve through their
 * `browser` export conditions, as Vite and esbuild apps would.
 *
 * @example
 * const code = await bundle(fileURLToPath(new URL('./page/app.ts', import.meta.url)))
 */
export async function bundle(entry: string, options: BundleOptions = {}): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: 'inline',
    minify: options.minify ?? false,
    define: options.define ?? {},
    external: options.external ?? [],
    logLevel: 'silent',
  })
  const output = result.outputFiles[0]
  if (!output) throw new Error(`esbuild produced no output for ${entry}`)
  return output.text
}
