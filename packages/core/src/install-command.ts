/** The package managers `installCommand` knows, by the name their user agent starts with. */
const ADD: Readonly<Record<string, string>> = {
  pnpm: 'pnpm add',
  yarn: 'yarn add',
  bun: 'bun add',
  npm: 'npm install',
}

/**
 * The command that installs `packages` with the package manager running this process (read
 * from `npm_config_user_agent`, which npm, pnpm, yarn and bun set for the scripts they run),
 * or `npm install … (or pnpm add / yarn add …)` when it cannot tell. For error messages.
 *
 * @example
 * installCommand('@engram/postgres') // 'pnpm add @engram/postgres' under pnpm
 */
export function installCommand(...packages: string[]): string {
  const names = packages.join(' ')
  const agent = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env
    ?.npm_config_user_agent
  const manager = agent?.split('/')[0]
  const add = manager === undefined ? undefined : ADD[manager]
  if (add !== undefined) return `${add} ${names}`
  return `npm install ${names} (or pnpm add / yarn add ${names})`
}
