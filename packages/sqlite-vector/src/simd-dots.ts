/**
 * A WebAssembly module of two functions that compute integer dot products of one int16 query
 * with rows of int8 codes, eight numbers per SIMD step (`i32x4.dot_i16x8_s`):
 *
 * - `all(codes, query, stride, count, out)`: rows `0 … count − 1`;
 * - `some(codes, query, stride, rows, n, out)`: the `n` rows listed (int32) at `rows`.
 *
 * A row is `stride` bytes (a multiple of 8, zero-padded), the query `stride` int16s, and each
 * result one int32 at `out`. The module imports its memory as `env.memory`. Its bytes are
 * assembled below from the instruction names, so the source stays readable and needs no tool.
 */

// Instruction encodings (WebAssembly core 2.0, with the fixed-width SIMD proposal).
const END = 0x0b
const BLOCK = [0x02, 0x40]
const LOOP = [0x03, 0x40]
const BR_IF = 0x0d
const LOCAL_GET = 0x20
const LOCAL_SET = 0x21
const LOCAL_TEE = 0x22
const I32_LOAD = [0x28, 2, 0]
const I32_STORE = [0x36, 2, 0]
const I32_CONST = 0x41
const I32_EQZ = 0x45
const I32_LT_U = 0x49
const I32_ADD = 0x6a
const I32_MUL = 0x6c
const I32_SHL = 0x74
const V128_LOAD = [0xfd, 0x00, 0, 0]
const V128_LOAD8X8_S = [0xfd, 0x01, 0, 0]
const V128_CONST_ZERO = [0xfd, 0x0c, ...new Array(16).fill(0)]
const I32X4_EXTRACT_LANE = [0xfd, 0x1b]
const I32X4_DOT_I16X8_S = [0xfd, 0xba, 0x01]
const I32X4_ADD = [0xfd, 0xae, 0x01]
const I32 = 0x7f
const V128 = 0x7b

const get = (local: number) => [LOCAL_GET, local]
const set = (local: number) => [LOCAL_SET, local]
const tee = (local: number) => [LOCAL_TEE, local]
/** `local += by` for a small positive `by`. */
const advance = (local: number, by: number) => [...get(local), I32_CONST, by, I32_ADD, ...set(local)]
/** Pushes the sum of the four int32 lanes of v128 `local`. */
const laneSum = (local: number) => [
  ...get(local),
  ...I32X4_EXTRACT_LANE,
  0,
  ...[1, 2, 3].flatMap((lane) => [...get(local), ...I32X4_EXTRACT_LANE, lane, I32_ADD]),
]

/** `local += by`, then repeats the enclosing loop while `local < end`. */
const stepWhileBelow = (local: number, by: number, end: number) => [
  ...get(local),
  I32_CONST,
  by,
  I32_ADD,
  ...tee(local),
  ...get(end),
  I32_LT_U,
  BR_IF,
  0,
]

/**
 * The inner loop: `acc = dot(codes[p … end), query[q …))` eight numbers at a time, leaving `p`
 * at `end`. `p`, `q`, `end` and `acc` are local indices.
 */
const rowDot = (p: number, q: number, end: number, acc: number) => [
  ...V128_CONST_ZERO,
  ...set(acc),
  ...LOOP,
  ...get(acc),
  ...get(p),
  ...V128_LOAD8X8_S,
  ...get(q),
  ...V128_LOAD,
  ...I32X4_DOT_I16X8_S,
  ...I32X4_ADD,
  ...set(acc),
  ...advance(q, 16),
  ...stepWhileBelow(p, 8, end),
  END,
]

/**
 * The outer loop, over `n` results at `out`: runs `row` (which leaves the row's dot product in
 * the lanes of `acc`) and stores the lanes' sum, until `out` reaches `last` (`out + n · 4`).
 */
const eachResult = (n: number, out: number, last: number, acc: number, row: number[]) => [
  ...BLOCK,
  ...get(n),
  I32_EQZ,
  BR_IF,
  0,
  ...get(out),
  ...get(n),
  I32_CONST,
  2,
  I32_SHL,
  I32_ADD,
  ...set(last),
  ...LOOP,
  ...row,
  ...get(out),
  ...laneSum(acc),
  ...I32_STORE,
  ...stepWhileBelow(out, 4, last),
  END,
  END,
  END,
]

/** `all`: params codes 0, query 1, stride 2, count 3, out 4; locals last 5, q 6, rowEnd 7 (i32), acc 8 (v128). */
const allBody = eachResult(3, 4, 5, 8, [
  ...get(1),
  ...set(6),
  // rowEnd = codes + stride; the row loop leaves codes there, at the next row
  ...get(0),
  ...get(2),
  I32_ADD,
  ...set(7),
  ...rowDot(0, 6, 7, 8),
])

/** `some`: params codes 0, query 1, stride 2, rows 3, n 4, out 5; locals last 6, q 7, rowEnd 8, p 9 (i32), acc 10 (v128). */
const someBody = eachResult(4, 5, 6, 10, [
  // p = codes + rows[j] · stride, rowEnd = p + stride
  ...get(0),
  ...get(3),
  ...I32_LOAD,
  ...get(2),
  I32_MUL,
  I32_ADD,
  ...tee(9),
  ...get(2),
  I32_ADD,
  ...set(8),
  ...get(1),
  ...set(7),
  ...rowDot(9, 7, 8, 10),
  ...advance(3, 4),
])

/** Unsigned LEB128, as every length and index in the binary format is written. */
function leb(value: number): number[] {
  const out: number[] = []
  do {
    let byte = value & 0x7f
    value >>>= 7
    if (value !== 0) byte |= 0x80
    out.push(byte)
  } while (value !== 0)
  return out
}

const vector = (items: number[][]) => [...leb(items.length), ...items.flat()]
const section = (id: number, content: number[]) => [id, ...leb(content.length), ...content]
const name = (text: string) => vector([...text].map((ch) => [ch.charCodeAt(0)]))
const funcType = (params: number) => [0x60, ...vector(new Array(params).fill([I32])), 0]
/** A function body: its local declarations (count, type) and code. */
const body = (locals: Array<[number, number]>, code: number[]) => {
  const content = [...vector(locals.map(([count, type]) => [...leb(count), type])), ...code]
  return [...leb(content.length), ...content]
}

/** The module's bytes. */
export function simdDotsModule(): Uint8Array {
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vector([funcType(5), funcType(6)])),
    // import env.memory: a memory of at least 1 page, no maximum
    ...section(2, vector([[...name('env'), ...name('memory'), 0x02, 0x00, 0x01]])),
    ...section(3, vector([[0], [1]])),
    ...section(
      7,
      vector([
        [...name('all'), 0x00, 0],
        [...name('some'), 0x00, 1],
      ]),
    ),
    ...section(
      10,
      vector([
        body(
          [
            [3, I32],
            [1, V128],
          ],
          allBody,
        ),
        body(
          [
            [4, I32],
            [1, V128],
          ],
          someBody,
        ),
      ]),
    ),
  ])
}
