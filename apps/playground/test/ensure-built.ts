import { execFile } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'

/** What the page is built from: its own sources and the built workspace packages it bundles. */
const INPUTS = [
  'index.html',
  'vite.config.ts',
  'src',
  ...['core', 'memory', 'sqljs', 'indexeddb'].map((name) => `node_modules/@engram/${name}/dist`),
]

/**
 * Runs `vite build` unless dist/ is newer than everything it is built from. The default test
 * command builds first (turbo), so this normally does nothing; a bare `vitest run` after an
 * edit still tests the page as it is now, not a stale build.
 */
export async function ensureBuilt(appDir: string): Promise<void> {
  const built = join(appDir, 'dist', 'index.html')
  if (existsSync(built) && statSync(built).mtimeMs >= newest(INPUTS.map((input) => join(appDir, input))))
    return
  await promisify(execFile)(
    process.execPath,
    [join(appDir, 'node_modules', 'vite', 'bin', 'vite.js'), 'build'],
    {
      cwd: appDir,
    },
  )
}

function newest(paths: string[]): number {
  let latest = 0
  for (const path of paths) {
    if (!existsSync(path)) continue
    const stat = statSync(path)
    latest = Math.max(
      latest,
      stat.isDirectory() ? newest(readdirSync(path).map((name) => join(path, name))) : stat.mtimeMs,
    )
  }
  return latest
}
