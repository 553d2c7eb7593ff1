import { seededRandom } from '@engram/conformance'
import type { ConversationMemory } from '@engram/memory'
import { Latencies } from './latencies.js'

/** The shape of one load run. */
export interface LoadPlan {
  /** Concurrent writers, each the only writer of its own user. */
  writers: number
  /** Concurrent readers, reading every writer's user. */
  readers: number
  /** Operations each writer and each reader performs. */
  operations: number
  /** Conversations per user. */
  conversations: number
  /** Seeds the readers' choices. */
  seed: number
}

/** What a load run measured and saw. */
export interface LoadResult {
  /** Latencies per operation kind. */
  readonly latency: Readonly<Record<'store' | 'retrieve' | 'list', Latencies>>
  /** Every error any operation threw, as `code: message`. */
  readonly errors: string[]
  /** Reads that saw a conversation's turns other than as a gap-free prefix of what was written. */
  readonly torn: string[]
  /** Wall-clock milliseconds for the whole run. */
  readonly elapsedMs: number
}

const BASE_TIME = Date.UTC(2026, 0, 1)

/** The user a writer writes as, and its conversations' ids. */
export function writerUser(writer: number): string {
  return `load-user-${writer}`
}

/** The conversation turn number `i` of a writer goes to. */
export function conversationOf(i: number, plan: LoadPlan): string {
  return `chat-${i % plan.conversations}`
}

/**
 * Runs writers and readers at once on one `ConversationMemory`. Writer `w` stores turns
 * `0 … operations-1` for its own user, turn `i` in conversation `i % conversations` with content
 * `w:i` and a strictly increasing timestamp. Readers meanwhile read random users' conversations
 * and lists; every read must show a conversation's turns as a prefix of its writer's sequence.
 */
export async function runConversationLoad(memory: ConversationMemory, plan: LoadPlan): Promise<LoadResult> {
  const latency = { store: new Latencies(), retrieve: new Latencies(), list: new Latencies() }
  const errors: string[] = []
  const torn: string[] = []
  const record = (error: unknown): void => {
    errors.push(`${(error as { code?: string }).code ?? 'ERROR'}: ${(error as Error).message}`)
  }
  const writer = async (w: number): Promise<void> => {
    const user = writerUser(w)
    for (let i = 0; i < plan.operations; i++) {
      await latency.store
        .time(() =>
          memory.storeConversationTurn(user, conversationOf(i, plan), {
            role: i % 2 === 0 ? 'user' : 'assistant',
            content: `${w}:${i}`,
            timestamp: BASE_TIME + i,
            metadata: { i },
          }),
        )
        .catch(record)
    }
  }
  const reader = async (r: number): Promise<void> => {
    const random = seededRandom(plan.seed + r)
    for (let k = 0; k < plan.operations; k++) {
      const w = Math.floor(random() * plan.writers)
      const user = writerUser(w)
      try {
        if (k % 4 === 3) {
          await latency.list.time(() => memory.listUserConversations(user))
          continue
        }
        const conversation = `chat-${Math.floor(random() * plan.conversations)}`
        const turns = await latency.retrieve.time(() =>
          memory.retrieveConversationTurns(user, conversation, { limit: 100_000 }),
        )
        // Turn i of this conversation is the writer's (c + j·conversations)-th: a gap means a torn read.
        const c = Number(conversation.slice(5))
        turns.forEach((turn, j) => {
          if (turn.content !== `${w}:${c + j * plan.conversations}`)
            torn.push(`${user}/${conversation}[${j}] = ${turn.content}`)
        })
      } catch (error) {
        record(error)
      }
    }
  }
  const start = performance.now()
  await Promise.all([
    ...Array.from({ length: plan.writers }, (_, w) => writer(w)),
    ...Array.from({ length: plan.readers }, (_, r) => reader(r)),
  ])
  return { latency, errors, torn, elapsedMs: performance.now() - start }
}
