import type { VectorStore } from '@engram/core'
import {
  type PineconeTestIndexSpec,
  type PineconeTestServer,
  startPineconeTestServer,
} from '@engram/test-servers/pinecone'
import { type Index, Pinecone } from '@pinecone-database/pinecone'
import { afterAll } from 'vitest'
import { createPineconeVectorStore, type PineconeVectorStoreConfig } from '../src/index.js'

/** Starts a test server for the calling test file and stops it after the file's tests. */
export async function useServer(indexes: readonly PineconeTestIndexSpec[]): Promise<PineconeTestServer> {
  const server = await startPineconeTestServer({ indexes })
  afterAll(() => server.close())
  return server
}

/** A store on `indexName` of the test server; the client retries nothing unless told to. */
export function storeOn(
  server: PineconeTestServer,
  indexName: string,
  config: Partial<PineconeVectorStoreConfig> = {},
): VectorStore {
  return createPineconeVectorStore({
    apiKey: server.apiKey,
    controllerHostUrl: server.url,
    indexName,
    maxRetries: 0,
    rateLimitBackoffMs: 1,
    ...config,
  })
}

/** The real client's handle on an index of the test server, to look at what the store wrote. */
export function rawIndex(server: PineconeTestServer, indexName: string): Index {
  return new Pinecone({ apiKey: server.apiKey, controllerHostUrl: server.url, maxRetries: 0 }).index({
    host: server.hostOf(indexName),
  })
}

/** A collection name no other test uses. */
export function uniqueCollection(): string {
  return `c_${Math.random().toString(36).slice(2, 10)}`
}

/** Runs `action` and returns the error it fails with. */
export async function failure(action: () => unknown): Promise<Error & { code?: string }> {
  try {
    await action()
  } catch (error) {
    return error as Error & { code?: string }
  }
  throw new Error('expected the call to fail')
}
