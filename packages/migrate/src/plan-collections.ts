import type { CollectionInfo, VectorStore } from '@engram/core'
import type { Checkpoint } from './checkpoint-store.js'
import type { Problem } from './problem.js'
import type { ConflictPolicy } from './table-writer.js'

/** What migration will do with one vector collection. */
export interface CollectionPlan {
  /** The source collection. */
  readonly info: CollectionInfo
  /** Where an earlier run of the same migration stopped. */
  readonly checkpoint: Checkpoint | undefined
  /** `'copy'`, `'resume'`, or `'skip'` (an earlier run finished it). */
  readonly action: 'copy' | 'resume' | 'skip'
  /** The target collection held records this migration did not write. */
  readonly targetHadRecords: boolean
}

/** Options for `planCollections`. */
export interface PlanCollectionsOptions {
  /** Collections to move; default all of the source's. */
  readonly names: readonly string[] | undefined
  readonly checkpoints: ReadonlyMap<string, Checkpoint>
  readonly resume: boolean
}

/**
 * Plans the collections from the source and the target's capabilities alone: what to copy,
 * and every reason it cannot be. It never calls the target store, whose first call may create
 * its tables; `inspectTargetCollections` does that once nothing else stands in the way.
 */
export async function planCollections(
  source: VectorStore,
  target: VectorStore | undefined,
  options: PlanCollectionsOptions,
): Promise<{ collections: CollectionPlan[]; problems: Problem[]; notes: string[] }> {
  const problems: Problem[] = []
  const notes: string[] = []
  const available = await source.listCollections()
  const names = options.names ?? available
  const collections: CollectionPlan[] = []
  for (const name of names) {
    const info = await source.describeCollection(name)
    if (info === undefined) {
      problems.push({
        code: 'NOT_FOUND',
        message: `There is no collection ${name} in the source; it has ${available.length === 0 ? 'none' : available.join(', ')}`,
      })
      continue
    }
    if (target) {
      const { metrics, maxDimension, hybrid } = target.capabilities
      if (!metrics.includes(info.metric)) {
        problems.push({
          code: 'UNSUPPORTED',
          message: `${name} uses the ${info.metric} metric, which the ${target.kind} store does not support (it has ${metrics.join(', ')})`,
        })
      }
      if (info.dimension > maxDimension) {
        problems.push({
          code: 'UNSUPPORTED',
          message: `${name} has ${info.dimension} dimensions; the ${target.kind} store takes at most ${maxDimension}`,
        })
      }
      if (!hybrid)
        notes.push(
          `The ${target.kind} store has no text search, so text and hybrid queries on ${name} will not work there`,
        )
    }
    const checkpoint = options.checkpoints.get(`collection:${name}`)
    let action: CollectionPlan['action'] = 'copy'
    if (checkpoint?.done && checkpoint.copied === info.count) {
      action = 'skip'
    } else if (checkpoint) {
      if (options.resume) action = 'resume'
      else {
        problems.push({
          code: 'INVALID_ARGUMENT',
          message: checkpoint.done
            ? `An earlier run of this migration finished collection ${name} with ${checkpoint.copied} records, but the source now has ${info.count}: rerun with resume to bring it up to date`
            : `An earlier run of this migration stopped in collection ${name} after ${checkpoint.copied} of ${info.count} records: rerun with resume (engram migrate --resume) to finish it`,
        })
      }
    }
    collections.push({ info, checkpoint, action, targetHadRecords: false })
  }
  return { collections, problems, notes }
}

/**
 * Looks at the target store's collections that have no checkpoint: one of another dimension or
 * metric stops the migration, and one holding records does too unless `onConflict` allows it.
 */
export async function inspectTargetCollections(
  target: VectorStore,
  collections: readonly CollectionPlan[],
  onConflict: ConflictPolicy,
): Promise<{ collections: CollectionPlan[]; problems: Problem[] }> {
  const problems: Problem[] = []
  const inspected: CollectionPlan[] = []
  for (const plan of collections) {
    const { name, dimension, metric } = plan.info
    const existing = plan.checkpoint ? undefined : await target.describeCollection(name)
    if (existing && (existing.dimension !== dimension || existing.metric !== metric)) {
      problems.push({
        code: 'INVALID_ARGUMENT',
        message: `The target's collection ${name} is ${existing.dimension}-dimension ${existing.metric}, the source's ${dimension}-dimension ${metric}: drop it or migrate elsewhere`,
      })
    } else if (existing && existing.count > 0 && onConflict === 'error') {
      problems.push({
        code: 'INVALID_ARGUMENT',
        message: `The target's collection ${name} already holds ${existing.count} records. Migrate into an empty collection, or choose onConflict 'skip' (keep the target's records) or 'replace' (overwrite records with the same id)`,
      })
    }
    inspected.push({ ...plan, targetHadRecords: existing !== undefined && existing.count > 0 })
  }
  return { collections: inspected, problems }
}
