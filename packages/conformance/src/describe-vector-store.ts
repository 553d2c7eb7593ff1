import type { VectorStore } from '@engram/core'
import { describe } from 'vitest'
import { edgeCaseTests } from './vector-suite-edge-cases.js'
import { filterTests } from './vector-suite-filters.js'
import type { SuiteSettings } from './vector-suite-harness.js'
import { hybridTests } from './vector-suite-hybrid.js'
import { inputRuleTests } from './vector-suite-input-rules.js'
import { lifecycleTests } from './vector-suite-lifecycle.js'
import { recordTests } from './vector-suite-records.js'
import { scoringTests } from './vector-suite-scoring.js'

/** The switchable groups of the vector suite. */
export type VectorSuiteGroup =
  | 'lifecycle'
  | 'records'
  | 'scoring'
  | 'filters'
  | 'hybrid'
  | 'edgeCases'
  | 'inputRules'

/** Options for `describeVectorStore`. */
export interface VectorSuiteOptions {
  /** Turn groups off with `false`. All are on by default; `hybrid` also skips itself when `capabilities.hybrid` is `false`. */
  groups?: Partial<Record<VectorSuiteGroup, boolean>>
  /** Called after every write, for eventually consistent stores: resolve once earlier writes are visible. */
  settle?: () => Promise<void>
  /** Runs after each store the suite opened has been closed (to remove files, databases, containers). */
  cleanup?: () => Promise<void>
  /** Relative tolerance for scores and vector components (absolute below 1). Default is `1e-4`. */
  scoreTolerance?: number
  /**
   * Set for approximate (ANN) stores: ranking checks on generated data then require recall@10 of
   * at least 0.9 instead of the exact order. Scores must still be exact for the ids returned.
   * Default is `false`.
   */
  approximate?: boolean
}

const GROUPS: ReadonlyArray<[VectorSuiteGroup, (settings: SuiteSettings) => void]> = [
  ['lifecycle', lifecycleTests],
  ['records', recordTests],
  ['scoring', scoringTests],
  ['filters', filterTests],
  ['hybrid', hybridTests],
  ['edgeCases', edgeCaseTests],
  ['inputRules', inputRuleTests],
]

/**
 * Registers the vector store conformance suite with vitest. `open` returns a store for each
 * test (the suite closes it); every test works in collections with unique names and drops them,
 * so one shared remote store can serve every test. The filter cases share one store and one
 * loaded collection for the whole group.
 *
 * @example
 * describeVectorStore('qdrant', async () => new QdrantVectorStore({ url }), { settle: waitForIndexing })
 */
export function describeVectorStore(
  name: string,
  open: () => Promise<VectorStore>,
  options: VectorSuiteOptions = {},
): void {
  const settings: SuiteSettings = {
    open,
    settle: options.settle ?? (async () => {}),
    cleanup: options.cleanup ?? (async () => {}),
    tolerance: options.scoreTolerance ?? 1e-4,
    approximate: options.approximate ?? false,
  }
  describe(`VectorStore conformance: ${name}`, () => {
    for (const [group, register] of GROUPS) {
      if (options.groups?.[group] === false) continue
      describe(group, () => register(settings))
    }
  })
}
