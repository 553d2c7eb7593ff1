import './style.css'
import type { IndexedDbDurability } from '@engram/indexeddb'
import type { Conversation, Memory, StoredConversationTurn } from '@engram/memory'
import { durabilityFrom, openPlayground } from './open-playground.js'

/** The page has one user; every conversation and memory belongs to it. */
const USER_ID = 'playground'
const SCOPE = `user:${USER_ID}`
const TITLE_LENGTH = 40
const DURABILITY: Readonly<Record<IndexedDbDurability, string>> = {
  commit: 'commit: each write is saved in IndexedDB before it returns',
  relaxed: 'relaxed: writes return at once and are saved together moments later, or when the tab is hidden',
}

const page = {
  storage: element<HTMLOutputElement>('storage'),
  durability: element<HTMLOutputElement>('durability'),
  embedder: element<HTMLOutputElement>('embedder'),
  memoryCount: element<HTMLOutputElement>('memory-count'),
  status: element<HTMLParagraphElement>('status'),
  newConversation: element<HTMLButtonElement>('new-conversation'),
  conversations: element<HTMLUListElement>('conversations'),
  turns: element<HTMLOListElement>('turns'),
  messageForm: element<HTMLFormElement>('message-form'),
  message: element<HTMLInputElement>('message'),
  recallForm: element<HTMLFormElement>('recall-form'),
  query: element<HTMLInputElement>('query'),
  recallTiming: element<HTMLParagraphElement>('recall-timing'),
  results: element<HTMLOListElement>('results'),
}

/** The conversation on screen; a fresh id is not stored until its first message. */
let current: string | undefined

async function main(): Promise<void> {
  const opened = performance.now()
  const { memory, storage } = await openPlayground(durabilityFrom(location.search))
  page.storage.value = `${storage.kind}: sql.js (WASM) with its image in IndexedDB, database "${storage.name}"`
  page.durability.value = DURABILITY[storage.durability]
  page.embedder.value = `local, deterministic (${memory.dimensions} dimensions)`
  await refresh(memory)
  setStatus(`Ready: opened in ${ms(performance.now() - opened)}`)

  page.messageForm.addEventListener('submit', (event) => {
    event.preventDefault()
    void busy(page.messageForm, () => send(memory, page.message.value))
  })
  page.recallForm.addEventListener('submit', (event) => {
    event.preventDefault()
    void busy(page.recallForm, () => recall(memory, page.query.value))
  })
  page.newConversation.addEventListener('click', () => {
    current = globalThis.crypto.randomUUID()
    refresh(memory).catch(fail)
    page.message.focus()
  })
  page.conversations.addEventListener('click', (event) => {
    const button = (event.target as Element).closest<HTMLButtonElement>('button[data-id]')
    if (!button?.dataset.id) return
    current = button.dataset.id
    refresh(memory).catch(fail)
  })
  // Another tab may have written meanwhile; show it when the user comes back to this one.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') refresh(memory).catch(fail)
  })
  for (const control of [page.newConversation, ...controls(page.messageForm), ...controls(page.recallForm)]) {
    control.disabled = false
  }
}

/** Stores the message as a user turn and as a memory linked to its conversation, so recall finds it. */
async function send(memory: Memory, text: string): Promise<void> {
  const content = text.trim()
  if (content.length === 0) return
  const conversationId = current ?? globalThis.crypto.randomUUID()
  const started = performance.now()
  const existing = await memory.conversations.getConversation(USER_ID, conversationId)
  await memory.conversations.storeConversationTurn(USER_ID, conversationId, { role: 'user', content })
  if (!existing?.title) {
    const title = content.length > TITLE_LENGTH ? `${content.slice(0, TITLE_LENGTH - 1)}…` : content
    await memory.conversations.updateConversation(USER_ID, conversationId, { title })
  }
  await memory.remember(content, { scope: SCOPE, type: 'episode', userId: USER_ID, conversationId })
  const elapsed = performance.now() - started
  current = conversationId
  page.message.value = ''
  await refresh(memory)
  setStatus(`Stored the turn and its memory in ${ms(elapsed)}`)
}

/** Runs a hybrid recall (vectors and full text fused with RRF) over this user's memories. */
async function recall(memory: Memory, text: string): Promise<void> {
  const query = text.trim()
  if (query.length === 0) return
  const started = performance.now()
  const hits = await memory.recall(query, { scope: SCOPE, topK: 5, mode: 'hybrid' })
  const elapsed = performance.now() - started
  page.results.replaceChildren(
    ...hits.map(({ trace, score }) =>
      item(
        span('text', trace.text),
        span('score', `score ${score.toFixed(4)}`),
        span('when', time(trace.createdAt)),
      ),
    ),
  )
  page.recallTiming.textContent = `${hits.length} ${hits.length === 1 ? 'result' : 'results'} in ${ms(elapsed)}, hybrid (vector + full text, RRF)`
}

/** The redraw under way; redraws run one after another, so an older one never paints over a newer one. */
let drawing: Promise<void> = Promise.resolve()

/** Redraws the conversation list, the current conversation's turns and the memory count from the store. */
function refresh(memory: Memory): Promise<void> {
  drawing = drawing.catch(() => undefined).then(() => draw(memory))
  return drawing
}

async function draw(memory: Memory): Promise<void> {
  const conversations = await memory.conversations.listUserConversations(USER_ID)
  current ??= conversations[0]?.conversationId ?? globalThis.crypto.randomUUID()
  const shown: Conversation[] = conversations.some((c) => c.conversationId === current)
    ? conversations
    : [draft(current), ...conversations]
  const turns = await memory.conversations.retrieveConversationTurns(USER_ID, current, { limit: 200 })
  page.conversations.replaceChildren(...shown.map((c) => conversationItem(c, c.conversationId === current)))
  page.turns.replaceChildren(...turns.map(turnItem))
  page.memoryCount.value = String(await memory.count(SCOPE))
}

function conversationItem(conversation: Conversation, selected: boolean): HTMLLIElement {
  const button = document.createElement('button')
  button.type = 'button'
  button.dataset.id = conversation.conversationId
  button.textContent = conversation.title ?? 'New conversation'
  if (selected) button.setAttribute('aria-current', 'true')
  return item(button)
}

function turnItem(turn: StoredConversationTurn): HTMLLIElement {
  return item(
    span('role', turn.role),
    span('content', turn.content ?? ''),
    span('when', time(turn.timestamp)),
  )
}

/** An unsaved conversation, listed so the user sees where the next message goes. */
function draft(conversationId: string): Conversation {
  const now = Date.now()
  return {
    conversationId,
    userId: USER_ID,
    agentId: null,
    createdAt: now,
    lastActivity: now,
    title: null,
    summary: null,
    persona: null,
  }
}

/**
 * Disables a form while its action runs so a double submit cannot interleave, marks it
 * `aria-busy` meanwhile (assistive tech and tests wait on that), and reports failures.
 */
async function busy(form: HTMLFormElement, action: () => Promise<void>): Promise<void> {
  const inputs = controls(form)
  for (const control of inputs) control.disabled = true
  form.setAttribute('aria-busy', 'true')
  try {
    await action()
  } catch (error) {
    fail(error)
  } finally {
    for (const control of inputs) control.disabled = false
    form.setAttribute('aria-busy', 'false')
    form.querySelector('input')?.focus()
  }
}

function controls(form: HTMLFormElement): (HTMLInputElement | HTMLButtonElement)[] {
  return [...form.querySelectorAll<HTMLInputElement | HTMLButtonElement>('input, button')]
}

function item(...children: Node[]): HTMLLIElement {
  const li = document.createElement('li')
  li.append(...children)
  return li
}

function span(className: string, text: string): HTMLSpanElement {
  const node = document.createElement('span')
  node.className = className
  node.textContent = text
  return node
}

function time(at: number): string {
  return new Date(at).toLocaleTimeString()
}

function ms(value: number): string {
  return `${value.toFixed(1)} ms`
}

function setStatus(text: string): void {
  page.status.textContent = text
  page.status.removeAttribute('data-error')
}

function fail(error: unknown): void {
  console.error(error)
  page.status.textContent = `Error: ${error instanceof Error ? error.message : String(error)}`
  page.status.dataset.error = 'true'
}

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id)
  if (!found) throw new Error(`index.html has no #${id}`)
  return found as T
}

main().catch(fail)
