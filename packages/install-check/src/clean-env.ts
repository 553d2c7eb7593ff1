import { delimiter } from 'node:path'

/** Variables a child of the check keeps from this process: what a shell on the machine would have. */
const KEPT = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LC_ALL', 'TMPDIR', 'TERM', 'CI', 'TZ']

/**
 * The environment of a process the check starts on behalf of a new user: this machine's basics,
 * without the variables the test runner and the workspace's package manager set
 * (`npm_config_*`, `npm_execpath`, `NODE_OPTIONS`, `VITEST*`, …), and with the repository's
 * `node_modules/.bin` folders taken off `PATH`, so nothing from the workspace leaks in.
 *
 * @param repoRoot the repository, whose folders are taken off `PATH`
 * @param extra variables to set on top
 */
export function cleanEnv(repoRoot: string, extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const name of KEPT) {
    const value = process.env[name]
    if (value !== undefined) env[name] = value
  }
  env.PATH = (env.PATH ?? '')
    .split(delimiter)
    .filter((entry) => entry !== '' && !entry.startsWith(repoRoot))
    .join(delimiter)
  return { ...env, ...extra }
}
