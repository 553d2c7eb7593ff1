/** Text or bytes in chunks: a Node stream, a generator, or an array of strings. */
export type ChunkSource = AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>

/** Splits chunks (split anywhere, even inside a UTF-8 character) into lines without their line ends. */
export async function* readLines(source: ChunkSource): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true })
  let pending = ''
  for await (const chunk of source as AsyncIterable<string | Uint8Array>) {
    pending += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true })
    let start = 0
    for (let end = pending.indexOf('\n'); end !== -1; end = pending.indexOf('\n', start)) {
      yield trimEnd(pending.slice(start, end))
      start = end + 1
    }
    pending = pending.slice(start)
  }
  pending += decoder.decode()
  if (pending.length > 0) yield trimEnd(pending)
}

function trimEnd(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line
}
