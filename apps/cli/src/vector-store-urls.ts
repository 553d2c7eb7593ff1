import { installCommand, StorageError, type VectorStore } from '@engram/core'

/** Reads one of the URL's query parameters, or `undefined`. */
function param(url: URL, name: string): string | undefined {
  return url.searchParams.get(name) ?? undefined
}

/** Imports a store package the CLI can use but does not install by default. */
async function load<T>(specifier: string): Promise<T> {
  try {
    return (await import(specifier)) as T
  } catch (error) {
    throw new StorageError(
      'DRIVER_NOT_INSTALLED',
      `This URL needs ${specifier}: ${installCommand(specifier)}`,
      { cause: error },
    )
  }
}

function required(value: string | undefined, what: string): string {
  if (value === undefined || value === '') throw new StorageError('INVALID_ARGUMENT', what)
  return value
}

/**
 * `qdrant://host[:port]` (plain HTTP, port 6333 by default) or `qdrant+https://host[:port]`;
 * `?tenant=` and `?prefix=` set the store's tenant and collection prefix. The API key comes from
 * `QDRANT_API_KEY`, never from the URL, so it stays out of shell history.
 */
async function openQdrant(text: string): Promise<VectorStore> {
  const url = new URL(text)
  const https = url.protocol === 'qdrant+https:'
  const endpoint = `${https ? 'https' : 'http'}://${url.hostname}:${url.port || '6333'}`
  const { createQdrantVectorStore } = await load<typeof import('@engram/qdrant')>('@engram/qdrant')
  const apiKey = process.env.QDRANT_API_KEY
  const tenant = param(url, 'tenant')
  const collectionPrefix = param(url, 'prefix')
  return createQdrantVectorStore({
    url: endpoint,
    ...(apiKey ? { apiKey } : {}),
    ...(tenant === undefined ? {} : { tenant }),
    ...(collectionPrefix === undefined ? {} : { collectionPrefix }),
  })
}

/**
 * `pinecone://<index name>`; `?host=` gives the index host instead of looking it up, and
 * `?tenant=` / `?prefix=` the tenant and namespace prefix. The API key comes from
 * `PINECONE_API_KEY` (and a self-hosted control plane from `PINECONE_CONTROLLER_HOST`).
 */
async function openPinecone(text: string): Promise<VectorStore> {
  const url = new URL(text)
  const indexName = required(url.hostname, 'A pinecone:// URL names the index: pinecone://<index name>')
  const apiKey = required(
    process.env.PINECONE_API_KEY,
    'pinecone:// URLs need the API key in PINECONE_API_KEY',
  )
  const { createPineconeVectorStore } = await load<typeof import('@engram/pinecone')>('@engram/pinecone')
  const host = param(url, 'host')
  const tenant = param(url, 'tenant')
  const namespacePrefix = param(url, 'prefix')
  const controllerHostUrl = process.env.PINECONE_CONTROLLER_HOST
  return createPineconeVectorStore({
    apiKey,
    ...(host === undefined ? { indexName } : { indexHost: host }),
    ...(tenant === undefined ? {} : { tenant }),
    ...(namespacePrefix === undefined ? {} : { namespacePrefix }),
    ...(controllerHostUrl ? { controllerHostUrl } : {}),
  })
}

/**
 * `supabase://<project ref>` (the project at `https://<ref>.supabase.co`), or `supabase+https://host`
 * / `supabase+http://host:port` for another address; `?schema=` names the schema the migration
 * used. The key comes from `SUPABASE_SERVICE_ROLE_KEY`.
 */
async function openSupabase(text: string): Promise<VectorStore> {
  const url = new URL(text)
  const key = required(
    process.env.SUPABASE_SERVICE_ROLE_KEY,
    'supabase:// URLs need the service role key in SUPABASE_SERVICE_ROLE_KEY',
  )
  const address =
    url.protocol === 'supabase:'
      ? `https://${required(url.hostname, 'A supabase:// URL names the project: supabase://<project ref>')}.supabase.co`
      : `${url.protocol === 'supabase+http:' ? 'http' : 'https'}://${url.host}`
  const { createSupabaseVectorStore } = await load<typeof import('@engram/supabase')>('@engram/supabase')
  const schema = param(url, 'schema')
  return createSupabaseVectorStore({ url: address, key, ...(schema === undefined ? {} : { schema }) })
}

/** The vector-store URL schemes the CLI understands, each opening its store. */
export const VECTOR_STORE_URLS: Readonly<Record<string, (url: string) => Promise<VectorStore>>> = {
  qdrant: openQdrant,
  'qdrant+https': openQdrant,
  pinecone: openPinecone,
  supabase: openSupabase,
  'supabase+https': openSupabase,
  'supabase+http': openSupabase,
}
