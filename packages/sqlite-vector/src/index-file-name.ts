/** The longest file name most file systems allow (NAME_MAX), in UTF-8 bytes. */
const NAME_MAX = 255
/** The longest suffix the HNSW sidecar adds to an index file's name (its checkpoint's temporary file). */
const SIDECAR_SUFFIX = '.json.tmp'
const LIMIT = NAME_MAX - SIDECAR_SUFFIX.length
const encoder = new TextEncoder()

/**
 * The file of a collection's HNSW index: `<database file>.<collection>.hnsw` beside the database,
 * or, when that name (with the sidecar's own suffixes) would not fit in a file name, the start
 * of the database's name plus a hash of both names, so every database and collection keeps its
 * own index file whatever the lengths.
 *
 * @example
 * indexFileName('/data/app.db', 'docs') // '/data/app.db.docs.hnsw'
 */
export function indexFileName(databasePath: string, collection: string): string {
  const slash = Math.max(databasePath.lastIndexOf('/'), databasePath.lastIndexOf('\\'))
  const folder = databasePath.slice(0, slash + 1)
  const base = databasePath.slice(slash + 1)
  const plain = `${base}.${collection}.hnsw`
  if (encoder.encode(plain).length <= LIMIT) return folder + plain
  const tag = `.${hash(`${base}\u0000${collection}`)}.hnsw`
  return folder + truncateBytes(base, LIMIT - tag.length) + tag
}

/** 64 bits of FNV-1a over the text's UTF-16 units, as 16 hex digits (a name, not a security measure). */
function hash(text: string): string {
  let a = 0x811c9dc5
  let b = 0x01000193 ^ 0x5bd1e995
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    a = Math.imul(a ^ c, 0x01000193) >>> 0
    b = Math.imul(b ^ c, 0x01000193 + 0x2f) >>> 0
  }
  return a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0')
}

/** The longest prefix of `text` whose UTF-8 form fits in `bytes`, never splitting a character. */
function truncateBytes(text: string, bytes: number): string {
  let used = 0
  let end = 0
  for (const char of text) {
    const size = encoder.encode(char).length
    if (used + size > bytes) break
    used += size
    end += char.length
  }
  return text.slice(0, end)
}
