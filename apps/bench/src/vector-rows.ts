import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { ResultRow } from './result-table.js'
import { buildVectorDataset, type VectorDataset, type VectorDatasetSpec } from './vector-dataset.js'

/** The three tables of one vector size. */
export type VectorTable = 'exact' | 'ann' | 'postgres'

/** Where one row of a group goes: its table, its place there, and the name its error row gets if the process dies. */
export interface VectorRowSlot {
  /** The table the row goes to. */
  table: VectorTable
  /** Position in its table (rows run in group order, but print in this one). */
  position: number
  /** The row's name when its process died before it answered. */
  system: string
  /** The row's role. */
  role: ResultRow['role']
}

/** One process's worth of the vector suite: the rows it produces and where each goes. */
interface VectorRowGroup {
  /** Its rows, in the order the group returns them. */
  slots: readonly VectorRowSlot[]
  /** Loads the group's module; the process's baseline is measured after it, with the data set. */
  load: () => Promise<(ds: VectorDataset, pgUrl: string) => Promise<ResultRow[]>>
}

const embedded = () => import('./embedded-vectors.js')

/**
 * The vector suite's rows, one process each, in the order they run. Rows that share a build
 * share a process: LanceDB's ANN row indexes the table its flat row loaded, and the three
 * PostgreSQL rows come from one function of postgres-vectors.ts.
 */
export const VECTOR_ROW_GROUPS: Readonly<Record<string, VectorRowGroup>> = {
  'raw-scan': {
    slots: [
      {
        table: 'exact',
        position: 0,
        system: 'raw: brute force over one normalised Float32Array in memory',
        role: 'raw',
      },
    ],
    load: async () => {
      const { rawBruteForce } = await embedded()
      return async (ds) => [await rawBruteForce(ds)]
    },
  },
  'engram-exact': {
    slots: [
      { table: 'exact', position: 1, system: 'engram SqlVectorStore, exact (no sidecar)', role: 'engram' },
    ],
    load: async () => {
      const { engramExact } = await embedded()
      return async (ds) => [await engramExact(ds)]
    },
  },
  lancedb: {
    slots: [
      { table: 'exact', position: 2, system: 'LanceDB 0.37.1, flat search (no index)', role: 'alternative' },
      {
        table: 'ann',
        position: 2,
        system: 'LanceDB 0.37.1, HNSW-SQ index (its defaults, cosine)',
        role: 'alternative',
      },
    ],
    load: async () => {
      const { lance } = await embedded()
      return async (ds) => {
        const rows = await lance(ds)
        return [rows.exact, rows.ann]
      }
    },
  },
  vectra: {
    slots: [
      {
        table: 'exact',
        position: 3,
        system: 'vectra 0.11.1 (JSON file, brute force in JS)',
        role: 'alternative',
      },
    ],
    load: async () => {
      const { vectra } = await embedded()
      return async (ds) => [await vectra(ds)]
    },
  },
  'raw-hnswlib': {
    slots: [{ table: 'ann', position: 0, system: 'raw hnswlib-node 3.0.0', role: 'raw' }],
    load: async () => {
      const { rawHnswlib } = await embedded()
      return async (ds) => [await rawHnswlib(ds)]
    },
  },
  'engram-ann': {
    slots: [{ table: 'ann', position: 1, system: 'engram SqlVectorStore + hnsw sidecar', role: 'engram' }],
    load: async () => {
      const { engramAnn } = await embedded()
      return async (ds) => [await engramAnn(ds)]
    },
  },
  postgres: {
    slots: [
      { table: 'postgres', position: 0, system: 'raw pg + pgvector SQL', role: 'raw' },
      { table: 'postgres', position: 1, system: 'engram PgVectorStore', role: 'engram' },
      { table: 'postgres', position: 2, system: '@mastra/pg 0.17.10 PgVector', role: 'alternative' },
    ],
    load: async () => (await import('./postgres-vectors.js')).postgresVectors,
  },
}

/** What the parent sends a vector-row child. */
export interface VectorRowPayload {
  /** A key of `VECTOR_ROW_GROUPS`. */
  group: string
  /** The data set, by seed and size. */
  spec: VectorDatasetSpec
  /** The PostgreSQL for the PostgreSQL rows. */
  pgUrl: string
}

/** What a vector-row child answers. */
export interface VectorRowResult {
  /** The group's rows, in slot order. */
  rows: ResultRow[]
  /** The child's RSS once its libraries were loaded and the data set built, before the row ran: the harness's share of every peak. */
  baselineRss: number
}

/** Runs one row group on a data set rebuilt from its spec, in this (child) process, in a folder of its own. */
export async function runVectorRow(payload: VectorRowPayload): Promise<VectorRowResult> {
  const group = VECTOR_ROW_GROUPS[payload.group]
  if (!group) throw new Error(`no vector row group "${payload.group}"`)
  const folder = join(payload.spec.folder, payload.group)
  mkdirSync(folder, { recursive: true })
  const run = await group.load()
  const ds = buildVectorDataset({ ...payload.spec, folder })
  const baselineRss = process.memoryUsage().rss
  return { rows: await run(ds, payload.pgUrl), baselineRss }
}
