import { defineConfig } from 'vitest/config'

// One run for the whole workspace: every package and app with a test/ folder is a project.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
})
