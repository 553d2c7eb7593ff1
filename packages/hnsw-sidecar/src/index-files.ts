import { open, readFile, rename, stat, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { VectorMetric } from '@engram/core'
import { HnswGraph, type Native, type Space } from './hnsw-graph.js'

/** What `<path>.json` records beside the index file. */
export interface IndexRecord {
  version: 1
  checkpoint?: string
  dimension: number
  metric: VectorMetric
  /** The index file's size when it was written, so a mismatched pair is never trusted. */
  bytes: number
  /** Labels marked deleted; hnswlib keeps them in the file but cannot list them. */
  deleted: number[]
}

/** The hnswlib space of each metric. */
export const SPACE: Record<VectorMetric, Space> = { cosine: 'cosine', dot: 'ip', euclidean: 'l2' }

/**
 * Reads the checkpoint file at `<path>.json` when it matches the index file beside it and the
 * wanted dimension and metric; `undefined` for a missing, unreadable or mismatched pair.
 */
export async function readIndexRecord(
  path: string,
  dimension: number,
  metric: VectorMetric,
): Promise<IndexRecord | undefined> {
  try {
    const record = JSON.parse(await readFile(`${path}.json`, 'utf8')) as IndexRecord
    const size = (await stat(path)).size
    if (record.version !== 1 || record.bytes !== size) return undefined
    if (record.dimension !== dimension || record.metric !== metric) return undefined
    return record
  } catch {
    return undefined
  }
}

/** Loads the index at `path` (off the main thread) when its checkpoint file matches it. */
export async function loadIndex(
  path: string,
  dimension: number,
  metric: VectorMetric,
): Promise<{ native: Native; record: IndexRecord } | undefined> {
  const record = await readIndexRecord(path, dimension, metric)
  if (record === undefined) return undefined
  const native = HnswGraph.blank(SPACE[metric], dimension)
  try {
    // Deleted slots are reused from now on, also in files written before engram reused them.
    await native.readIndex(path, true)
  } catch {
    return undefined
  }
  return { native, record }
}

/**
 * Replaces the index file at `path` and its checkpoint file. `write` puts the index into
 * `<path>.tmp`; then the checkpoint goes to `<path>.json.tmp`, both reach the disk, and both
 * are renamed into place, index first, and the renames are made durable. A crash in between
 * leaves an older checkpoint beside a newer index, which only makes the caller replay changes
 * the index already holds (adds and removes are idempotent); a torn pair never replaces a whole one.
 */
export async function writeIndexFiles(
  path: string,
  write: (temporary: string) => Promise<unknown>,
  record: Omit<IndexRecord, 'version' | 'bytes'>,
): Promise<void> {
  await write(`${path}.tmp`)
  const bytes = (await stat(`${path}.tmp`)).size
  const full: IndexRecord = { version: 1, ...record, bytes }
  await writeFile(`${path}.json.tmp`, JSON.stringify(full))
  await syncFile(`${path}.tmp`)
  await syncFile(`${path}.json.tmp`)
  await rename(`${path}.tmp`, path)
  await rename(`${path}.json.tmp`, `${path}.json`)
  await syncFolder(dirname(path))
}

/** Flushes a file's contents to the disk. */
async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Makes renames in a folder durable; platforms that cannot open a folder (Windows) skip it. */
async function syncFolder(path: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined
  try {
    handle = await open(path, 'r')
    await handle.sync()
  } catch (error) {
    const code = (error as { code?: string }).code
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL') throw error
  } finally {
    await handle?.close()
  }
}
