import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

// One run for the whole workspace: every package and app with a test/ folder is a project,
// named after its package, and inherits the settings below (extends: true).
const here = dirname(fileURLToPath(import.meta.url))
const projects = ['packages', 'apps']
  .flatMap((group) => readdirSync(join(here, group)).map((name) => join(here, group, name)))
  .filter((dir) => existsSync(join(dir, 'test')))
  .map((dir) => ({
    extends: true as const,
    test: {
      name: (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string }).name,
      root: dir,
    },
  }))

export default defineConfig({
  test: {
    projects,
    // Generous bounds: the machines have two cores, and CI shares them with PostgreSQL.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
