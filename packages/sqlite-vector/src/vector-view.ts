import { bytesToVector } from '@engram/core'

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/**
 * Reads a stored little-endian Float32 blob for scoring without copying when the platform is
 * little-endian and the bytes are 4-byte aligned (the usual case); otherwise it decodes a copy
 * with core's `bytesToVector`. The view shares the blob's memory, so use it before the next read.
 */
export function viewVector(bytes: Uint8Array): Float32Array {
  if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0 && bytes.byteLength % 4 === 0) {
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)
  }
  return bytesToVector(bytes)
}
