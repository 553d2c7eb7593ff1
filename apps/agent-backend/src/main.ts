// The agent backend's entry point: opens the memory the environment asks for (see openMemory),
// serves it on HOST:PORT (default 0.0.0.0:3000), and on SIGINT/SIGTERM stops taking requests,
// lets the ones in flight finish, and closes the memory.
import { createServer } from 'node:http'
import { createApp } from './create-app.js'
import { describePlan, openMemory } from './open-memory.js'

/** How long shutdown waits for requests in flight before cutting their connections. */
const SHUTDOWN_GRACE_MS = 10_000

const port = Number(process.env.PORT ?? 3000)
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`PORT must be a port number (0-65535); got '${process.env.PORT}'`)
  process.exit(1)
}

const opened = await openMemory().catch((error: unknown) => {
  console.error(`engram agent backend could not open its memory: ${(error as Error).message}`)
  process.exit(1)
})
const { memory } = opened
const server = createServer(createApp({ memory }))
server.listen(port, process.env.HOST ?? '0.0.0.0', () => {
  const address = server.address()
  const bound =
    typeof address === 'object' && address ? `${address.address}:${address.port}` : String(address)
  console.log(`engram agent backend listening on ${bound}`)
  console.log(
    `  storage: ${memory.storage.kind} on ${describePlan(opened.plan)}; vectors: ${memory.vectors.kind}`,
  )
})

let stopping = false
async function shutdown(signal: string): Promise<void> {
  if (stopping) {
    console.error(`${signal} again: exiting without waiting`)
    process.exit(1)
  }
  stopping = true
  console.log(`${signal}: finishing requests in flight, then closing the memory`)
  // A stuck client must not keep the process alive forever.
  const force = setTimeout(() => {
    console.error(`Requests still running after ${SHUTDOWN_GRACE_MS} ms; closing anyway`)
    server.closeAllConnections()
  }, SHUTDOWN_GRACE_MS)
  force.unref()
  const closed = new Promise<void>((resolve) => server.close(() => resolve()))
  // Keep-alive connections with no request in flight would otherwise hold close() open.
  server.closeIdleConnections()
  await closed
  clearTimeout(force)
  try {
    await opened.close()
    console.log('memory closed; bye')
  } catch (error) {
    console.error(`closing the memory failed: ${(error as Error).message}`)
    process.exitCode = 1
  }
}

process.on('SIGINT', () => void shutdown('SIGINT'))
process.on('SIGTERM', () => void shutdown('SIGTERM'))
