// The agent backend's entry point: checks its configuration and opens the memory the environment
// asks for (see startServer), serves it (default 127.0.0.1:3000), and on SIGINT/SIGTERM stops
// taking requests, lets the ones in flight finish, and closes the memory.
import { type RunningServer, startServer } from './start-server.js'

/** How long shutdown waits for requests in flight before cutting their connections. */
const SHUTDOWN_GRACE_MS = 10_000

const running: RunningServer = await startServer(process.env).catch((error: unknown) => {
  console.error(`engram agent backend did not start: ${(error as Error).message}`)
  process.exit(1)
})
const { server, opened } = running
for (const line of running.banner) console.log(line)

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
