import { simdDotsModule } from './simd-dots.js'

/** The exports of the SIMD module (`simd-dots.ts`). */
interface SimdDots {
  all(codes: number, query: number, stride: number, count: number, out: number): void
  some(codes: number, query: number, stride: number, rows: number, n: number, out: number): void
}

/** The part of the WebAssembly JavaScript API used here (the ES lib this package compiles against has no types for it). */
declare const WebAssembly: {
  validate(bytes: Uint8Array): boolean
  Module: new (bytes: Uint8Array) => WasmModule
  Instance: new (module: WasmModule, imports: { env: { memory: WasmMemory } }) => { exports: unknown }
  Memory: new (descriptor: { initial: number }) => WasmMemory
}
/** A compiled module. */
type WasmModule = { readonly compiled: unique symbol }
/** A linear memory. */
interface WasmMemory {
  readonly buffer: ArrayBuffer
  grow(pages: number): number
}

const PAGE_BYTES = 65_536
/** Past this many bytes the matrix lives in an ordinary buffer: not every engine grows a WebAssembly memory that far. */
const SIMD_MAX_BYTES = 2 ** 31

let compiled: WasmModule | null | undefined

/** The SIMD module, compiled once; `null` where WebAssembly or its SIMD instructions are missing. */
function simdModule(): WasmModule | null {
  if (compiled === undefined) {
    try {
      const bytes = simdDotsModule()
      compiled = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null
    } catch {
      compiled = null
    }
  }
  return compiled
}

/** The largest query code that keeps every dot product of a row of `stride` int8 codes within int32. */
export function queryCodeLimit(stride: number): number {
  return Math.min(32_767, Math.floor((2 ** 31 - 1) / (127 * stride)))
}

/**
 * Rows of int8 codes, `stride` bytes each (the dimension rounded up to 8, zero-padded), and
 * their integer dot products with an int16 query of `stride` numbers whose codes stay within
 * `queryCodeLimit(stride)`. The products run in WebAssembly SIMD where the platform has it and
 * in plain JavaScript otherwise; both give the same integers, which no rounding touches.
 */
export class CodeMatrix {
  /** Bytes per row. */
  readonly stride: number
  /** The rows' codes (capacity × stride); a new view after `grow`. */
  codes: Int8Array
  #capacity: number
  #memory: WasmMemory | undefined
  #simd: SimdDots | undefined

  /** Room for `capacity` rows of `dimension` codes. */
  constructor(dimension: number, capacity: number) {
    this.stride = Math.max(8, Math.ceil(dimension / 8) * 8)
    this.#capacity = 0
    this.codes = new Int8Array(0)
    this.grow(capacity)
  }

  /** Whether the products run in WebAssembly SIMD. */
  get simd(): boolean {
    return this.#simd !== undefined
  }

  /** Bytes held: the codes, and in WebAssembly the per-query scratch space and the page rounding. */
  get byteLength(): number {
    return this.#memory ? this.#memory.buffer.byteLength : this.codes.byteLength
  }

  /** Copies row `from` onto row `to`. */
  copyRow(from: number, to: number): void {
    const s = this.stride
    this.codes.copyWithin(to * s, from * s, (from + 1) * s)
  }

  /**
   * Makes room for `capacity` rows, keeping the existing ones. The rows move into a WebAssembly
   * memory once they fill at least one of its 64 KiB pages (smaller ones are scored as fast in
   * JavaScript), and back out if that memory cannot grow.
   */
  grow(capacity: number): void {
    const old = this.codes
    // Growing a WebAssembly memory detaches `old`, which then reads as empty.
    const kept = old.length
    this.#capacity = capacity
    const needed = this.#layout(capacity).end
    const module = simdModule()
    if (module && !this.#memory && capacity * this.stride >= PAGE_BYTES && needed <= SIMD_MAX_BYTES) {
      try {
        const memory = new WebAssembly.Memory({ initial: Math.ceil(needed / PAGE_BYTES) })
        const instance = new WebAssembly.Instance(module, { env: { memory } })
        this.#simd = instance.exports as unknown as SimdDots
        this.#memory = memory
        this.codes = new Int8Array(memory.buffer, 0, capacity * this.stride)
        this.codes.set(old)
        return
      } catch {
        // No memory that large here: stay in plain JavaScript.
      }
    }
    const memory = this.#memory
    if (memory) {
      try {
        if (needed > SIMD_MAX_BYTES) throw new RangeError('past the WebAssembly memory limit')
        const pages = Math.ceil((needed - memory.buffer.byteLength) / PAGE_BYTES)
        if (pages > 0) memory.grow(pages)
        this.codes = new Int8Array(memory.buffer, 0, capacity * this.stride)
        // The new rows overlap the old scratch space: clear them, padding included.
        this.codes.fill(0, kept)
        return
      } catch {
        // Too large for a WebAssembly memory here: carry on in plain JavaScript (a failed grow
        // leaves the memory, and so `old`, as it was).
        this.#memory = undefined
        this.#simd = undefined
      }
    }
    this.codes = new Int8Array(capacity * this.stride)
    this.codes.set(old.subarray(0, Math.min(kept, this.codes.length)))
  }

  /**
   * The dot product of `query` (`stride` int16 codes) with each of the first `count` rows, or
   * with each row listed in `rows`, in that order. The result is a view that the next call reuses.
   */
  dots(query: Int16Array, count: number, rows?: Int32Array): Int32Array {
    const n = rows ? rows.length : count
    const simd = this.#simd
    const memory = this.#memory
    if (simd && memory) {
      const at = this.#layout(this.#capacity)
      new Int16Array(memory.buffer, at.query, this.stride).set(query)
      if (rows) {
        new Int32Array(memory.buffer, at.rows, n).set(rows)
        simd.some(0, at.query, this.stride, at.rows, n, at.out)
      } else {
        simd.all(0, at.query, this.stride, n, at.out)
      }
      return new Int32Array(memory.buffer, at.out, n)
    }
    const out = new Int32Array(n)
    const codes = this.codes
    const s = this.stride
    for (let j = 0; j < n; j++) {
      const base = (rows ? (rows[j] as number) : j) * s
      // Integers well within 2^53: any order of the sums gives the same exact result.
      let a = 0
      let b = 0
      for (let x = 0; x < s; x += 2) {
        a += (codes[base + x] as number) * (query[x] as number)
        b += (codes[base + x + 1] as number) * (query[x + 1] as number)
      }
      out[j] = a + b
    }
    return out
  }

  /** Where the codes end and the scratch space (query, row list, results) sits, 16-byte aligned. */
  #layout(capacity: number): { query: number; rows: number; out: number; end: number } {
    const align = (n: number) => Math.ceil(n / 16) * 16
    const query = align(capacity * this.stride)
    const rows = align(query + this.stride * 2)
    const out = align(rows + capacity * 4)
    return { query, rows, out, end: out + capacity * 4 }
  }
}
