import type { Filter, Metadata, MetadataValue } from '@engram/core'
import fc from 'fast-check'

/** Metadata field names the generated records and filters share, so filters hit records often. */
export const FIELDS = ['f', 'g', 'h'] as const

/** Values chosen to catch type confusion: 1 against true, '10' against 10, code point order, quotes. */
const STRINGS = ['', '1', '10', '2', 'a', 'B', 'é', "it's", 'a b', '\u{1F600}', '\uFF5A', 'zz'] as const
const NUMBERS = [0, 1, 2, 10, -3.5, 0.25, 1e21, -0.5] as const
const LISTS: readonly (readonly string[])[] = [[], ['a'], ['a', 'B'], ['10', "it's"], ['é', '\u{1F600}']]

const field = fc.constantFrom(...FIELDS)
const string = fc.constantFrom(...STRINGS)
const number = fc.constantFrom(...NUMBERS)
const scalar = fc.oneof(string, number, fc.boolean())

/** A metadata value: a string, a number, a boolean or a list of strings. */
const metadataValue: fc.Arbitrary<MetadataValue> = fc.oneof(scalar, fc.constantFrom(...LISTS))

/** Metadata over the shared fields; `undefined` (no metadata at all) about one time in eight. */
export const metadata: fc.Arbitrary<Metadata | undefined> = fc.option(
  fc.dictionary(field, metadataValue, { maxKeys: FIELDS.length }),
  { freq: 7, nil: undefined },
) as fc.Arbitrary<Metadata | undefined>

/** What a store can evaluate: its operators, and whether ranges may compare strings. */
export interface FilterAbility {
  /** The operators it honours. */
  readonly operators: readonly string[]
  /** Whether `$gt`/`$gte`/`$lt`/`$lte` may take strings. */
  readonly stringRanges: boolean
}

/** Random filter trees (up to three levels of `$and`/`$or`) using only what `ability` allows. */
export function filters(ability: FilterAbility): fc.Arbitrary<Filter> {
  const has = (op: string): boolean => ability.operators.includes(op)
  const leaves: fc.Arbitrary<Filter>[] = []
  if (has('$eq')) {
    leaves.push(fc.tuple(field, scalar).map(([f, v]): Filter => ({ [f]: v })))
    leaves.push(fc.tuple(field, scalar).map(([f, v]): Filter => ({ [f]: { $eq: v } })))
  }
  if (has('$ne')) leaves.push(fc.tuple(field, scalar).map(([f, v]): Filter => ({ [f]: { $ne: v } })))
  const bound = ability.stringRanges ? fc.oneof(number, string) : number
  for (const op of ['$gt', '$gte', '$lt', '$lte'] as const) {
    if (has(op)) leaves.push(fc.tuple(field, bound).map(([f, v]): Filter => ({ [f]: { [op]: v } })))
  }
  for (const op of ['$in', '$nin'] as const) {
    if (has(op)) {
      leaves.push(
        fc.tuple(field, fc.array(scalar, { maxLength: 5 })).map(([f, v]): Filter => ({ [f]: { [op]: v } })),
      )
    }
  }
  if (has('$exists'))
    leaves.push(fc.tuple(field, fc.boolean()).map(([f, v]): Filter => ({ [f]: { $exists: v } })))
  const leaf = fc.oneof(...leaves)
  // Two conditions in one object are ANDed, like `{ f: 1, g: { $gt: 2 } }`.
  const merged = fc.tuple(leaf, leaf).map(([a, b]): Filter => ({ ...b, ...a }))
  const { tree } = fc.letrec<{ tree: Filter }>((tie) => ({
    tree: fc.oneof(
      { maxDepth: 3, depthIdentifier: 'filter' },
      leaf,
      merged,
      ...(['$and', '$or'] as const)
        .filter(has)
        .map((op) =>
          fc
            .array(tie('tree'), { minLength: 1, maxLength: 3 })
            .map((children): Filter => ({ [op]: children })),
        ),
    ),
  }))
  return tree
}
