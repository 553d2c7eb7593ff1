import { REPOSITORY_WEB } from './manifest-problems.js'

const LINK = /!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g

/**
 * Links in a published README that only work inside the repository (`../../docs/x.md`,
 * `../sqlite-vector`): on npm they lead nowhere. Each problem names the absolute address to
 * use instead.
 *
 * @param readme the README's text
 * @param dir the package's folder in the repository (`packages/core`)
 */
export function relativeLinkProblems(readme: string, dir: string): string[] {
  const prose = readme.replace(/^ {0,3}(`{3,}|~{3,})[\s\S]*?^ {0,3}\1\s*$/gm, '')
  const problems: string[] = []
  for (const match of prose.matchAll(LINK)) {
    const target = match[1] ?? ''
    if (target.startsWith('#') || /^[a-z][a-z0-9+.-]*:/i.test(target)) continue
    problems.push(
      `links to ${target}, which is not in the published package: use ${absoluteLink(target, dir)}`,
    )
  }
  return problems
}

/** The address on the repository's web pages of a link written relative to a package folder. */
export function absoluteLink(target: string, dir: string): string {
  const [path = '', anchor] = target.split('#')
  const parts = dir.split('/').filter(Boolean)
  for (const part of path.split('/')) {
    if (part === '..') parts.pop()
    else if (part !== '.' && part !== '') parts.push(part)
  }
  const joined = parts.join('/')
  const kind = /\.[a-z0-9]+$/i.test(joined) ? 'blob' : 'tree'
  return `${REPOSITORY_WEB}/${kind}/main/${joined}${anchor === undefined ? '' : `#${anchor}`}`
}
