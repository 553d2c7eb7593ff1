import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The agent backend's built entry point (apps/agent-backend/dist/main.js). */
export const AGENT_BACKEND_MAIN = fileURLToPath(
  new URL('../../../apps/agent-backend/dist/main.js', import.meta.url),
)

/** Whether the agent backend is built, so it can be started as its own process. */
export function agentBackendBuilt(): boolean {
  return existsSync(AGENT_BACKEND_MAIN)
}

/** A running agent backend process. */
export interface AgentBackend {
  /** `http://<address>:<port>`, from the line it prints when listening. */
  readonly url: string
  /** The address it bound. */
  readonly address: string
  /** Stops it (SIGTERM) and resolves once it has exited. */
  stop(): Promise<void>
}

/** How a start that was meant to fail ended. */
export interface RefusedStart {
  /** The exit code. */
  readonly code: number | null
  /** What it printed to stderr. */
  readonly stderr: string
}

function launch(env: Record<string, string>): ChildProcess {
  // Only what the backend needs: no credentials or settings leak in from the environment running the suite.
  const base = { PATH: process.env.PATH ?? '', NODE_ENV: 'production' }
  return spawn(process.execPath, [AGENT_BACKEND_MAIN], {
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

/** Starts the backend with `env` (PORT 0 unless given) and waits for it to say where it listens. */
export function startAgentBackend(env: Record<string, string>): Promise<AgentBackend> {
  const child = launch({ PORT: '0', ...env })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return new Promise((resolve, reject) => {
    let stdout = ''
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
      const match = /listening on (\S+):(\d+)/.exec(stdout)
      if (!match) return
      const [, address, port] = match as unknown as [string, string, string]
      resolve({
        url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
        address,
        async stop() {
          child.kill('SIGTERM')
          await exited
        },
      })
    })
    child.once('exit', (code) =>
      reject(new Error(`the agent backend exited with code ${code}: ${stderr.trim()}`)),
    )
  })
}

/** Starts the backend with a configuration it must refuse, and resolves with how it exited. */
export function startRefused(env: Record<string, string>): Promise<RefusedStart> {
  const child = launch({ PORT: '0', ...env })
  let stderr = ''
  let stdout = ''
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    if (stdout.includes('listening on')) child.kill('SIGKILL')
  })
  return new Promise((resolve) => {
    child.once('exit', (code) =>
      resolve({ code, stderr: stdout.includes('listening on') ? `STARTED: ${stdout}` : stderr }),
    )
  })
}
