// The vectors the ANN worker writes, derived from (record number, version) so the parent can
// recompute what any stored record must hold. Shared by the worker and the suite.

/** Dimension of the ANN worker's collection. */
export const DIMENSION = 8

/** The vector of record `n` at `version`: deterministic, spread over the sphere. */
export function vectorOf(n, version) {
  let state = (n * 2654435761 + version * 40503 + 1) >>> 0
  const out = new Float32Array(DIMENSION)
  for (let i = 0; i < DIMENSION; i++) {
    state = (Math.imul(state ^ (state >>> 15), 2246822519) + 0x9e3779b9) >>> 0
    out[i] = (state / 4_294_967_296) * 2 - 1
  }
  return out
}

/** Records whose number passes this test are the only ones the worker ever deletes. */
export function deletable(n) {
  return n % 5 === 3
}
