import type { ConversationTurn, Memory, PruneHistoryOptions, Trace, TurnRole } from '@engram/memory'
import { bodyFields } from '../body-fields.js'
import { HttpError } from '../http-error.js'
import { readJsonBody } from '../read-json-body.js'
import type { Router } from '../router.js'
import { userScope } from './user-scope.js'

const TURN_FIELDS = [
  'role',
  'content',
  'agentId',
  'model',
  'usage',
  'tool_calls',
  'tool_call_id',
  'metadata',
  'summary',
  'timestamp',
  'storageId',
  'remember',
] as const
/** Upper bound on a page, so one request cannot ask the database for everything. */
const MAX_PAGE = 500

/** Adds the turn and conversation endpoints, all under `/users/:userId/conversations`. */
export function conversationRoutes(router: Router, memory: Memory): void {
  const conversations = memory.conversations
  const base = '/users/:userId/conversations/:conversationId'

  router.add('POST', `${base}/turns`, async ({ request, params }) => {
    const { userId, conversationId } = ids(params)
    const { remember, ...turn } = bodyFields(await readJsonBody(request), TURN_FIELDS)
    if (remember !== undefined && typeof remember !== 'boolean') {
      throw new HttpError(400, 'INVALID_ARGUMENT', 'remember must be true or false')
    }
    const storageId = typeof turn.storageId === 'string' ? turn.storageId : globalThis.crypto.randomUUID()
    // The memory is written before the turn because it can be undone (forget) if the turn then
    // fails, whereas a stored turn cannot be removed on its own through the conversation API.
    let trace: Trace | undefined
    if (remember === true) {
      if (typeof turn.content !== 'string' || turn.content.trim().length === 0) {
        throw new HttpError(400, 'INVALID_ARGUMENT', 'remember: true needs a turn with non-empty content')
      }
      trace = await memory.remember(turn.content, {
        userId,
        conversationId,
        scope: userScope(userId),
        type: 'episode',
        metadata: { turnId: storageId },
      })
    }
    try {
      await conversations.storeConversationTurn(userId, conversationId, {
        ...(turn as unknown as ConversationTurn),
        storageId,
      })
    } catch (error) {
      if (trace) await memory.forget(trace.id).catch(() => undefined)
      throw error
    }
    return { status: 201, body: trace ? { storageId, memoryId: trace.id } : { storageId } }
  })

  router.add('GET', `${base}/turns`, async ({ params, query }) => {
    const { userId, conversationId } = ids(params)
    const since = query.string('since')
    const roles = query.list('roles') as TurnRole[] | undefined
    const limit = query.integer('limit', 1, MAX_PAGE)
    const offset = query.integer('offset', 0, Number.MAX_SAFE_INTEGER)
    const order = query.oneOf('order', ['asc', 'desc'] as const)
    const turns = await conversations.retrieveConversationTurns(userId, conversationId, {
      ...(limit === undefined ? {} : { limit }),
      ...(offset === undefined ? {} : { offset }),
      ...(order === undefined ? {} : { order }),
      ...(since === undefined ? {} : { since }),
      ...(roles === undefined ? {} : { roles }),
    })
    // An empty page is ambiguous: tell "no such conversation for this user" apart from "no turns match".
    if (turns.length === 0) await requireConversation(memory, userId, conversationId)
    return { body: turns }
  })

  router.add('GET', '/users/:userId/conversations', async ({ params, query }) => {
    const userId = params.userId as string
    const limit = query.integer('limit', 1, MAX_PAGE)
    const offset = query.integer('offset', 0, Number.MAX_SAFE_INTEGER)
    const agentId = query.string('agentId')
    const list = await conversations.listUserConversations(userId, {
      ...(limit === undefined ? {} : { limit }),
      ...(offset === undefined ? {} : { offset }),
      ...(agentId === undefined ? {} : { agentId }),
    })
    return { body: list }
  })

  router.add('GET', base, async ({ params }) => {
    const { userId, conversationId } = ids(params)
    return { body: await requireConversation(memory, userId, conversationId) }
  })

  router.add('PUT', `${base}/persona`, async ({ request, params }) => {
    const { userId, conversationId } = ids(params)
    const body = bodyFields(await readJsonBody(request), ['persona'])
    if (!('persona' in body)) {
      throw new HttpError(400, 'INVALID_ARGUMENT', 'persona is required (a string, or null to clear it)')
    }
    await conversations.setConversationPersona(userId, conversationId, body.persona as string | null)
    return { body: await requireConversation(memory, userId, conversationId) }
  })

  router.add('POST', `${base}/prune`, async ({ request, params }) => {
    const { userId, conversationId } = ids(params)
    const options = bodyFields(await readJsonBody(request), ['keepLast', 'olderThan'])
    await requireConversation(memory, userId, conversationId)
    const removed = await conversations.pruneHistory(userId, conversationId, options as PruneHistoryOptions)
    return { body: { removed } }
  })

  router.add('DELETE', base, async ({ params }) => {
    const { userId, conversationId } = ids(params)
    // Memory runs its delete hook here, so memories remembered from this conversation go too.
    if (!(await conversations.deleteConversation(userId, conversationId))) throw notFound(conversationId)
    return { status: 204 }
  })
}

function ids(params: Readonly<Record<string, string>>): { userId: string; conversationId: string } {
  return { userId: params.userId as string, conversationId: params.conversationId as string }
}

async function requireConversation(memory: Memory, userId: string, conversationId: string) {
  const conversation = await memory.conversations.getConversation(userId, conversationId)
  if (conversation === undefined) throw notFound(conversationId)
  return conversation
}

function notFound(conversationId: string): HttpError {
  return new HttpError(404, 'NOT_FOUND', `This user has no conversation '${conversationId}'`)
}
