import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type AuthEnv, authConfigFromEnv, ConfigError } from './auth-config.js'
import { createAuthenticator } from './authenticator.js'
import { createApp } from './create-app.js'
import { describePlan, type MemoryEnv, type OpenedMemory, openMemory } from './open-memory.js'

/** Everything the server reads from its environment. */
export interface ServerEnv extends AuthEnv, MemoryEnv {
  /** The port to listen on. Default is `3000`; `0` picks a free one. */
  PORT?: string | undefined
  /** The address to bind. Default is `127.0.0.1`, so nothing outside this machine can connect. */
  HOST?: string | undefined
}

/** A started server and what it opened. */
export interface RunningServer {
  /** The HTTP server, listening. */
  server: Server
  /** The memory it serves, with the call that closes it and its database. */
  opened: OpenedMemory
  /** Where it listens. */
  address: AddressInfo
  /** What it logged on start, one line each (also printed by `main`). */
  banner: string[]
}

/**
 * Checks the configuration (refusing to start without authentication unless insecure mode is
 * asked for, and refusing insecure mode on any but a loopback address), opens the memory and
 * starts listening. A bad configuration is a `ConfigError` that says what to set.
 */
export async function startServer(env: ServerEnv): Promise<RunningServer> {
  const port = parsePort(env.PORT)
  const host = env.HOST?.trim() || '127.0.0.1'
  const auth = createAuthenticator(authConfigFromEnv(env))
  if (auth.mode === 'insecure' && !isLoopback(host)) {
    throw new ConfigError(
      `ENGRAM_INSECURE_NO_AUTH=1 trusts whatever user id a request names, so it only runs on a loopback address; HOST is ${host}. Configure ENGRAM_AUTH_TOKENS or ENGRAM_AUTH_JWT_SECRET to serve other machines`,
    )
  }
  const opened = await openMemory(env)
  const server = createServer(createApp({ memory: opened.memory, auth }))
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => {
        server.off('error', reject)
        resolve()
      })
    })
  } catch (error) {
    await opened.close().catch(() => undefined)
    throw error
  }
  const address = server.address() as AddressInfo
  const { memory } = opened
  const banner = [
    `engram agent backend listening on ${address.address}:${address.port}`,
    `  storage: ${memory.storage.kind} on ${describePlan(opened.plan)}; vectors: ${memory.vectors.kind}`,
    auth.mode === 'insecure'
      ? '  WARNING: ENGRAM_INSECURE_NO_AUTH=1: no authentication, any local process can act as any user'
      : '  authentication: bearer tokens / HS256 JWTs; every request acts only for its own user',
  ]
  return { server, opened, address, banner }
}

function parsePort(text: string | undefined): number {
  const given = text?.trim() || '3000'
  const port = Number(given)
  if (!/^\d+$/.test(given) || port > 65_535) {
    throw new ConfigError(`PORT must be a port number (0-65535); got '${text}'`)
  }
  return port
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}
