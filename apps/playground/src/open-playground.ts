import { createIndexedDbAdapter, type IndexedDbAdapter, type IndexedDbDurability } from '@engram/indexeddb'
import { createLocalEmbedder, Memory } from '@engram/memory'
// Vite copies the wasm into dist/ and hands back its hashed URL, so the page works from any static server.
import wasmUrl from 'sql.js/dist/sql-wasm-browser.wasm?url'

/** The IndexedDB database the page keeps its SQLite image in. */
export const DATABASE_NAME = 'engram-playground'

/** The open memory and what it runs on, for the page to show. */
export interface Playground {
  /** The memory: conversations, remember and recall. */
  memory: Memory
  /** The structured store under it, which also says its name and durability mode. */
  storage: IndexedDbAdapter
}

/** `?durability=relaxed` in the address picks relaxed writes; anything else keeps the default, `'commit'`. */
export function durabilityFrom(search: string): IndexedDbDurability {
  return new URLSearchParams(search).get('durability') === 'relaxed' ? 'relaxed' : 'commit'
}

/** Opens the IndexedDB-backed store and a memory on it with the offline local embedder. */
export async function openPlayground(durability: IndexedDbDurability): Promise<Playground> {
  const storage = await createIndexedDbAdapter({
    name: DATABASE_NAME,
    durability,
    locateFile: () => wasmUrl,
  })
  try {
    // The local embedder hashes words and trigrams: deterministic, and nothing to download.
    const memory = await Memory.open({ storage, embed: createLocalEmbedder() })
    return { memory, storage }
  } catch (error) {
    await storage.close().catch(() => undefined)
    throw error
  }
}
