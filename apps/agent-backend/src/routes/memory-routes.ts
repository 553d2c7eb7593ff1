import type { Metadata } from '@engram/core'
import type { Memory, Trace } from '@engram/memory'
import { bodyFields } from '../body-fields.js'
import { HttpError } from '../http-error.js'
import { readJsonBody } from '../read-json-body.js'
import type { Router } from '../router.js'
import { userScope } from './user-scope.js'

/** Most matches one recall may return. */
const MAX_TOP_K = 100

/** Adds the memory endpoints: remember, fetch, recall and forget, each confined to the user's scope. */
export function memoryRoutes(router: Router, memory: Memory): void {
  router.add('POST', '/users/:userId/memories', async ({ request, params }) => {
    const userId = params.userId as string
    const body = bodyFields(await readJsonBody(request), ['text', 'tags', 'metadata', 'type'])
    const trace = await memory.remember(body.text as string, {
      scope: userScope(userId),
      ...(body.tags === undefined ? {} : { tags: body.tags as string[] }),
      ...(body.metadata === undefined ? {} : { metadata: body.metadata as Metadata }),
      ...(body.type === undefined ? {} : { type: body.type as string }),
    })
    return { status: 201, body: trace }
  })

  router.add('GET', '/users/:userId/memories/:id', async ({ params }) => {
    return { body: await ownTrace(memory, params.userId as string, params.id as string) }
  })

  router.add('DELETE', '/users/:userId/memories/:id', async ({ params }) => {
    const trace = await ownTrace(memory, params.userId as string, params.id as string)
    if (!(await memory.forget(trace.id))) throw notFound(trace.id)
    return { status: 204 }
  })

  router.add('GET', '/users/:userId/recall', async ({ params, query }) => {
    const q = query.string('q')
    if (q === undefined || q.trim().length === 0) {
      throw new HttpError(400, 'INVALID_ARGUMENT', 'recall needs a query: ?q=…')
    }
    const topK = query.integer('topK', 1, MAX_TOP_K)
    const mode = query.oneOf('mode', ['hybrid', 'vector', 'text'] as const)
    const hits = await memory.recall(q, {
      scope: userScope(params.userId as string),
      ...(topK === undefined ? {} : { topK }),
      ...(mode === undefined ? {} : { mode }),
    })
    return { body: hits }
  })
}

/**
 * The trace, if it is in this user's scope. Another user's trace answers exactly like a missing
 * one (404), so ids cannot be probed across users.
 */
async function ownTrace(memory: Memory, userId: string, id: string): Promise<Trace> {
  const trace = await memory.get(id)
  if (trace === undefined || trace.scope !== userScope(userId)) throw notFound(id)
  return trace
}

function notFound(id: string): HttpError {
  return new HttpError(404, 'NOT_FOUND', `This user has no memory '${id}'`)
}
