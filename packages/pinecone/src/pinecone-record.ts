import {
  type Metadata,
  type MetadataValue,
  StorageError,
  type ValidRecord,
  type VectorRecord,
} from '@engram/core'
import type { PineconeRecord, RecordMetadata } from '@pinecone-database/pinecone'

/** Metadata keys that start with this are the store's own; engram metadata may not use them. */
export const RESERVED_PREFIX = '__engram_'
/** Every metadata key of the record, after a `#` sentinel, so "lacks the field" is a list test. */
export const FIELDS_KEY = `${RESERVED_PREFIX}fields`
/** The metadata keys whose value is an empty list (those are not sent to Pinecone). */
export const EMPTY_KEY = `${RESERVED_PREFIX}empty`
/** The record's text. */
export const TEXT_KEY = `${RESERVED_PREFIX}text`
/** The engram id, for records whose id Pinecone cannot hold as it is. */
export const ID_KEY = `${RESERVED_PREFIX}id`
/** Keeps the fields list non-empty, so Pinecone's list operators always see a present list. */
export const FIELDS_SENTINEL = '#'

/** Pinecone's limit on a record's metadata: 40 KB of JSON. */
export const MAX_METADATA_BYTES = 40_960
/** Pinecone's limit on a record id: 512 ASCII characters. */
const MAX_PINECONE_ID = 512
/** Printable ASCII without space (fetch refuses ids with spaces); `~` is kept for hashed ids. */
const KEPT_ID = /^[!-}][!-~]*$/
const HASHED_ID_PREFIX = '~'
/**
 * Stored in a padding dimension of an all-zero vector, which Pinecone refuses as it is. Queries
 * are zero there, so cosine and dot product stay exactly 0 and euclidean distance changes by
 * 1e-30 at most.
 */
const ZERO_CARRIER = 1e-30

const encoder = new TextEncoder()

/** Where a record lives in the index: its dimension inside an index of `indexDimension`. */
export interface VectorLayout {
  /** The collection's dimension. */
  readonly dimension: number
  /** The index's dimension (at least the collection's; the rest is zero padding). */
  readonly indexDimension: number
}

/**
 * The id Pinecone stores for an engram id: the id itself when it is printable ASCII without
 * spaces (and does not start with `~`), otherwise `~` and the base64url SHA-256 of its UTF-8
 * bytes. The two forms never meet, so different engram ids never share a Pinecone id.
 */
export async function pineconeId(id: string): Promise<string> {
  if (id.length <= MAX_PINECONE_ID && KEPT_ID.test(id)) return id
  const digest = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', encoder.encode(id)))
  let binary = ''
  for (const byte of digest) binary += String.fromCharCode(byte)
  return HASHED_ID_PREFIX + btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** Maps engram ids to Pinecone ids, keeping the pairs both ways. */
export async function mapIds(ids: readonly string[]): Promise<Map<string, string>> {
  const mapped = await Promise.all(ids.map(pineconeId))
  return new Map(ids.map((id, i) => [mapped[i] as string, id]))
}

/** Refuses metadata keys that would collide with the store's own. */
export function checkUserKeys(metadata: Metadata | undefined, what: string): void {
  if (metadata === undefined) return
  for (const key of Object.keys(metadata)) {
    if (key.startsWith(RESERVED_PREFIX)) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `${what} key ${JSON.stringify(key)} starts with ${RESERVED_PREFIX}, which the Pinecone store reserves for its own fields; rename it`,
      )
    }
  }
}

/** The values Pinecone stores for a vector: padded with zeros to the index's dimension. */
export function toIndexValues(vector: Float32Array, layout: VectorLayout, what: string): number[] {
  const values = new Array<number>(layout.indexDimension).fill(0)
  let nonZero = false
  for (let i = 0; i < vector.length; i++) {
    const x = vector[i] as number
    if (x !== 0) nonZero = true
    // Nine significant digits give back the same 32-bit float, in about half the JSON.
    values[i] = x === 0 ? 0 : Number(x.toPrecision(9))
  }
  if (!nonZero) {
    if (layout.indexDimension === layout.dimension) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `${what} is all zeros, which Pinecone refuses; give it at least one non-zero value (or store this collection in an index with more dimensions and padSmallerDimensions, see docs/pinecone.md)`,
      )
    }
    values[layout.indexDimension - 1] = ZERO_CARRIER
  }
  return values
}

/** The query values for Pinecone: the vector padded with zeros. */
export function toQueryValues(vector: Float32Array, layout: VectorLayout): number[] {
  const values = new Array<number>(layout.indexDimension).fill(0)
  for (let i = 0; i < vector.length; i++) values[i] = vector[i] as number
  return values
}

/** A record in Pinecone's form, with the bytes it takes in an upsert request body. */
export interface EncodedRecord {
  /** The record as the client sends it. */
  readonly record: PineconeRecord
  /** UTF-8 bytes of its JSON in the request body. */
  readonly bytes: number
}

/**
 * Turns a checked record into Pinecone's form: metadata as it is (empty lists left out and
 * named in `__engram_empty`), the key list, the text and, for a hashed id, the engram id. Fails
 * with `INVALID_ARGUMENT` past Pinecone's 40 KB of metadata, before anything is sent.
 */
export async function encodeRecord(
  record: ValidRecord,
  layout: VectorLayout,
  what: string,
): Promise<EncodedRecord> {
  checkUserKeys(record.metadata, `${what}.metadata`)
  const id = await pineconeId(record.id)
  const metadata: RecordMetadata = {}
  const empty: string[] = []
  for (const [key, value] of Object.entries(record.metadata ?? {})) {
    if (Array.isArray(value) && value.length === 0) empty.push(key)
    else metadata[key] = Array.isArray(value) ? [...value] : (value as string | number | boolean)
  }
  metadata[FIELDS_KEY] = [FIELDS_SENTINEL, ...Object.keys(record.metadata ?? {})]
  if (empty.length > 0) metadata[EMPTY_KEY] = empty
  if (record.text !== undefined) metadata[TEXT_KEY] = record.text
  if (id !== record.id) metadata[ID_KEY] = record.id
  const size = byteLength(JSON.stringify(metadata))
  if (size > MAX_METADATA_BYTES) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `${what} needs ${size} bytes of Pinecone metadata (its metadata, text and id), over Pinecone's limit of ${MAX_METADATA_BYTES} (40 KB) per record; store long text elsewhere and keep a reference in metadata`,
    )
  }
  const pinecone: PineconeRecord = {
    id,
    values: toIndexValues(record.vector, layout, `${what}.vector`),
    metadata,
  }
  return { record: pinecone, bytes: byteLength(JSON.stringify(pinecone)) }
}

/** What a stored record decodes to. */
export interface DecodedRecord {
  /** The engram id. */
  readonly id: string
  /** The metadata, when the record has any. */
  readonly metadata?: Metadata
  /** The text, when the record has any. */
  readonly text?: string
}

/** Reads the engram id, metadata and text back from a Pinecone record's id and metadata. */
export function decodeMetadata(pineconeRecordId: string, stored: RecordMetadata | undefined): DecodedRecord {
  const source = stored ?? {}
  const id = typeof source[ID_KEY] === 'string' ? (source[ID_KEY] as string) : pineconeRecordId
  const metadata: Record<string, MetadataValue> = {}
  for (const [key, value] of Object.entries(source)) {
    if (!key.startsWith(RESERVED_PREFIX)) metadata[key] = Array.isArray(value) ? [...value] : value
  }
  const empty = source[EMPTY_KEY]
  if (Array.isArray(empty)) for (const key of empty) metadata[key] = []
  const decoded: { id: string; metadata?: Metadata; text?: string } = { id }
  if (Object.keys(metadata).length > 0) decoded.metadata = metadata
  if (typeof source[TEXT_KEY] === 'string') decoded.text = source[TEXT_KEY] as string
  return decoded
}

/** A whole record back from Pinecone: the vector cut to the collection's dimension. */
export function decodeRecord(stored: PineconeRecord, dimension: number): VectorRecord {
  const decoded = decodeMetadata(stored.id, stored.metadata)
  const record: VectorRecord = { id: decoded.id, vector: toCollectionVector(stored.values, dimension) }
  if (decoded.metadata !== undefined) record.metadata = decoded.metadata
  if (decoded.text !== undefined) record.text = decoded.text
  return record
}

/** The first `dimension` values as a `Float32Array` (the rest is padding). */
export function toCollectionVector(values: readonly number[] | undefined, dimension: number): Float32Array {
  const vector = new Float32Array(dimension)
  if (values) for (let i = 0; i < dimension && i < values.length; i++) vector[i] = values[i] as number
  return vector
}

/** UTF-8 length of a string. */
export function byteLength(text: string): number {
  return encoder.encode(text).length
}
