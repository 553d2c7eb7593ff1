/**
 * A request the test server refuses, with the HTTP status and the `status.error` text Qdrant
 * would send (`Wrong input: …`, `Not found: …`, `Validation error in JSON body: …`).
 */
export class QdrantHttpError extends Error {
  /** The HTTP status code. */
  readonly status: number

  constructor(status: number, message: string) {
    super(message)
    this.name = 'QdrantHttpError'
    this.status = status
  }
}

/** A feature of Qdrant's API that this test server does not implement: a 400 that says so plainly. */
export function notImplemented(feature: string): QdrantHttpError {
  return new QdrantHttpError(400, `Wrong input: engram's Qdrant test server does not implement ${feature}`)
}
