/**
 * Turns texts into vectors, one per text, all of the same length. Any function of this
 * shape works: a hosted API, a local model, or the lexical embedder shipped here.
 */
export type Embedder = (texts: string[]) => Promise<Float32Array[]>
