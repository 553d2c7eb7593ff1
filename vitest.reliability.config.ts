import { defineConfig } from 'vitest/config'

// The evidence suite behind docs/RELIABILITY.md: kill -9 rounds, PostgreSQL faults, differential
// fuzzing, a load run and hostile input. Minutes, not hours; not part of the default `pnpm test`.
export default defineConfig({
  test: {
    name: '@engram/reliability',
    root: 'packages/reliability',
    include: ['suite/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    // One file at a time: the fault and load files measure and kill processes, so they must not share the two cores.
    fileParallelism: false,
  },
})
