import type { IncomingMessage } from 'node:http'
import { HttpError } from './http-error.js'

/** The largest request body accepted by default: 1 MiB. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024

/**
 * Reads a request body as JSON. An empty body reads as `{}` so optional bodies can be left out;
 * a body over `limit` bytes is a 413 (checked against Content-Length first, then while reading,
 * so a lying or missing header cannot get past it).
 */
export async function readJsonBody(request: IncomingMessage, limit = DEFAULT_BODY_LIMIT): Promise<unknown> {
  const declared = Number(request.headers['content-length'])
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limit) throw tooLarge(limit)
    chunks.push(chunk)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  if (text.trim().length === 0) return {}
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new HttpError(
      400,
      'INVALID_JSON',
      `The request body is not valid JSON: ${(error as Error).message}`,
    )
  }
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, 'PAYLOAD_TOO_LARGE', `The request body is larger than ${limit} bytes`)
}
