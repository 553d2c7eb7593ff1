/** A package named on an install line, with the version range written after `@`, if any. */
export interface InstallSpec {
  /** The package name, with its scope. */
  readonly name: string
  /** The range or tag written after the name (`@6`, `@^3.1`), if any. */
  readonly range?: string
}

const COMMAND = /^(?:npm\s+(?:install|i|add)|pnpm\s+(?:add|install|i)|yarn\s+add|bun\s+add)\b(.*)$/

/**
 * The packages a shell block installs: every `npm install …`, `pnpm add …`, `yarn add …` or
 * `bun add …` command in it (also after `&&` or `;`), without flags and `#` comments. A command
 * with no package names (a plain `pnpm install`) installs nothing by name and is ignored.
 */
export function installedPackages(shell: string): InstallSpec[] {
  const specs: InstallSpec[] = []
  for (const rawLine of shell.split(/\r?\n/)) {
    const line = rawLine.replace(/(^|\s)#.*$/, '').trim()
    for (const command of line.split(/&&|;/)) {
      const match = COMMAND.exec(command.trim())
      if (!match) continue
      for (const word of (match[1] ?? '').trim().split(/\s+/)) {
        if (word === '' || word.startsWith('-')) continue
        specs.push(installSpec(word))
      }
    }
  }
  return specs
}

/** Splits `name@range` (and `@scope/name@range`) into its parts. */
export function installSpec(word: string): InstallSpec {
  const at = word.indexOf('@', word.startsWith('@') ? 1 : 0)
  if (at <= 0) return { name: word }
  return { name: word.slice(0, at), range: word.slice(at + 1) }
}
