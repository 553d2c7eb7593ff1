import type { StorageAdapter } from '@engram/core'
import type { SchemaDefinition } from './migrate-schema.js'

/** The table of memory traces. */
export const TRACES_TABLE = 'engram_traces'
/** The table of ingested documents. */
export const DOCUMENTS_TABLE = 'engram_documents'

/**
 * The schema of `Memory`'s own rows: documents and the traces cut from them or remembered on
 * their own. Vectors live in the vector store, keyed by the trace's id; metadata and tags are
 * JSON text and times BIGINT milliseconds, which read back the same on SQLite and Postgres.
 */
export const MEMORY_SCHEMA: SchemaDefinition = {
  component: 'memory',
  migrations: [
    {
      version: 1,
      name: 'traces and documents',
      async up(tx: StorageAdapter) {
        await tx.exec(`
          CREATE TABLE ${DOCUMENTS_TABLE} (
            id TEXT PRIMARY KEY,
            title TEXT,
            metadata TEXT NOT NULL,
            chunk_count INTEGER NOT NULL,
            created_at BIGINT NOT NULL
          );
          CREATE TABLE ${TRACES_TABLE} (
            id TEXT PRIMARY KEY,
            text TEXT NOT NULL,
            type TEXT NOT NULL,
            scope TEXT NOT NULL,
            tags TEXT NOT NULL,
            metadata TEXT NOT NULL,
            document_id TEXT REFERENCES ${DOCUMENTS_TABLE} (id) ON DELETE CASCADE,
            chunk_index INTEGER,
            user_id TEXT,
            conversation_id TEXT,
            created_at BIGINT NOT NULL
          );
          CREATE INDEX engram_traces_by_scope ON ${TRACES_TABLE} (scope, created_at);
          CREATE INDEX engram_traces_by_document ON ${TRACES_TABLE} (document_id, chunk_index);
          CREATE INDEX engram_traces_by_conversation ON ${TRACES_TABLE} (user_id, conversation_id);
        `)
      },
    },
  ],
}
