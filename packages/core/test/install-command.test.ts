import { afterEach, describe, expect, it, vi } from 'vitest'
import { installCommand } from '../src/index.js'

describe('installCommand', () => {
  afterEach(() => {
    vi.unstubAllEnvs()
  })

  for (const [agent, command] of [
    ['pnpm/10.34.9 npm/? node/v20.20.2 linux x64', 'pnpm add @engram/postgres'],
    ['npm/11.6.2 node/v20.20.2 linux x64 workspaces/false', 'npm install @engram/postgres'],
    ['yarn/1.22.22 npm/? node/v20.20.2 linux x64', 'yarn add @engram/postgres'],
    ['bun/1.2.0 npm/? node/v20.20.2 linux x64', 'bun add @engram/postgres'],
  ] as const) {
    it(`names ${agent.split('/')[0]}'s own command when it runs the process`, () => {
      vi.stubEnv('npm_config_user_agent', agent)
      expect(installCommand('@engram/postgres')).toBe(command)
    })
  }

  it('offers npm, pnpm and yarn when it cannot tell, with every package named', () => {
    vi.stubEnv('npm_config_user_agent', '')
    expect(installCommand('@engram/core', '@engram/sqlite-native')).toBe(
      'npm install @engram/core @engram/sqlite-native (or pnpm add / yarn add @engram/core @engram/sqlite-native)',
    )
  })
})
