// The agent workload the memory suite replays: chat turns, memories and recall questions, all
// from seeded generators, so every run and every backend sees the same data.
import { seededRandom } from '@engram/conformance'
import type { ConversationTurn, RememberOptions } from '@engram/memory'

const pick = <T>(random: () => number, list: readonly T[]): T => list[Math.floor(random() * list.length)] as T

const NAMES = [
  'Ada',
  'Bruno',
  'Chen',
  'Dara',
  'Elif',
  'Farid',
  'Grace',
  'Hiro',
  'Ines',
  'Jonas',
  'Kofi',
  'Lena',
]
const TOPICS = [
  'the invoice for March',
  'my flight to Lisbon',
  'the Postgres migration',
  'a refund for order 4471',
  'the onboarding checklist',
  'our team offsite',
  'the quarterly report',
  'a broken login page',
  'the new pricing plan',
  'my running schedule',
  'a birthday gift for my sister',
  'the API rate limits',
  'the kitchen renovation',
  'a Spanish lesson plan',
  'the backup policy',
  'the conference talk',
]
const ASKS = [
  'Can you help me with {topic}?',
  'I need an update on {topic}.',
  'What is the best way to handle {topic}?',
  'Could you summarise where we are with {topic}?',
  'Remind me what we decided about {topic}.',
  'Is there anything blocking {topic}?',
]
const DETAILS = [
  '{name} mentioned it should be done by Friday.',
  'Last time it took about three days.',
  'I would rather keep the cost under two hundred euros.',
  'The previous attempt failed because of a missing permission.',
  'Please keep it short, I only have a few minutes.',
  'I already tried restarting it twice.',
  '{name} is also in the loop on this one.',
  'It matters because the deadline moved up a week.',
]
const ANSWERS = [
  'Sure, here is what I found about {topic}.',
  'Based on our earlier conversation, {topic} is mostly on track.',
  'The main open point on {topic} is the approval from {name}.',
  'I checked the notes and {topic} needs one more review.',
  'There are two options for {topic}, and the first is cheaper.',
  'I would start with the smallest change and measure the result.',
  'That should take about an hour if nothing else comes up.',
  'I have added a reminder for next Tuesday morning.',
  'Let me know if you want me to draft a message to {name}.',
  'The last update on {topic} was two days ago.',
]

function fill(template: string, random: () => number, topic: string): string {
  return template.replace('{topic}', topic).replace('{name}', pick(random, NAMES))
}

function sentences(random: () => number, pool: readonly string[], count: number, topic: string): string {
  return Array.from({ length: count }, () => fill(pick(random, pool), random, topic)).join(' ')
}

const DAY = 86_400_000
/** The clock the generated turns start from. */
export const BASE_TIME = Date.UTC(2026, 10, 1)

/** One turn to store, with the ids it belongs to. */
export interface PlannedTurn {
  userId: string
  conversationId: string
  turn: ConversationTurn
}

/**
 * The turns in arrival order: every conversation's first turn, then every second turn, and so on,
 * so writes interleave across conversations the way concurrent chats arrive. Generated lazily
 * from one seeded stream, so the order and content are the same on every backend.
 */
export function* plannedTurns(conversations: number, turns: number, users: number): Generator<PlannedTurn> {
  const random = seededRandom(42)
  const starts = Array.from({ length: conversations }, () => BASE_TIME - Math.floor(random() * 90 * DAY))
  const topics = Array.from({ length: conversations }, () => pick(random, TOPICS))
  for (let t = 0; t < turns; t++) {
    for (let c = 0; c < conversations; c++) {
      const topic = topics[c] as string
      const user = c % users
      const timestamp = (starts[c] as number) + t * 45_000 + Math.floor(random() * 30_000)
      const turn: ConversationTurn =
        t % 2 === 0
          ? {
              role: 'user',
              content: `${fill(pick(random, ASKS), random, topic)} ${sentences(random, DETAILS, 1 + Math.floor(random() * 2), topic)}`,
              timestamp,
              metadata: { channel: random() < 0.7 ? 'web' : 'mobile' },
            }
          : {
              role: 'assistant',
              content: sentences(random, ANSWERS, 2 + Math.floor(random() * 3), topic),
              timestamp,
              agentId: 'support-agent',
              model: 'gpt-4o-mini',
              usage: {
                prompt_tokens: 200 + Math.floor(random() * 2000),
                completion_tokens: 40 + Math.floor(random() * 200),
              },
            }
      yield { userId: userIdOf(user), conversationId: conversationIdOf(c), turn }
    }
  }
}

export const userIdOf = (user: number) => `user-${String(user).padStart(5, '0')}`
export const conversationIdOf = (c: number) => `conv-${String(c).padStart(6, '0')}`

const MEMORY_FACTS = [
  '{name} prefers {thing} in the morning.',
  '{name} is allergic to {thing}.',
  '{name} asked about {topic} last week.',
  '{name} wants weekly updates on {topic}.',
  'The deadline for {topic} is the end of the month.',
  '{name} owns {topic} and reports to {other}.',
  '{name} travels to {city} for {topic}.',
  '{name} uses {thing} for {topic}.',
]
const THINGS = [
  'green tea',
  'black coffee',
  'peanuts',
  'dark mode',
  'a standing desk',
  'Vim',
  'oat milk',
  'Python',
]
const CITIES = ['Lisbon', 'Osaka', 'Nairobi', 'Montreal', 'Berlin', 'Lima', 'Hanoi', 'Oslo']

function memoryText(random: () => number): string {
  return pick(random, MEMORY_FACTS)
    .replace('{name}', pick(random, NAMES))
    .replace('{other}', pick(random, NAMES))
    .replace('{thing}', pick(random, THINGS))
    .replace('{topic}', pick(random, TOPICS))
    .replace('{city}', pick(random, CITIES))
}

/**
 * `count` memories, every text distinct: the facts repeat (about 6,000 different ones), so each
 * ends with its own note number, as a real agent's memories differ in their details. A memory
 * layer that drops a repeated text (as @framers/agentos does, by content hash) would otherwise
 * hold a fraction of what engram holds and rank far fewer records per query.
 */
export function memoryItems(count: number): Array<RememberOptions & { text: string }> {
  const random = seededRandom(7)
  return Array.from({ length: count }, (_, i) => ({
    text: `${memoryText(random)} (note ${i + 1})`,
    scope: `user:${i % 1000}`,
    type: 'fact',
    tags: [pick(random, ['work', 'personal', 'travel', 'health'])],
  }))
}

export function recallQueries(count: number): string[] {
  const random = seededRandom(11)
  const forms = [
    'what does {name} drink in the morning',
    'is {name} allergic to anything',
    'who owns {topic}',
    'when is {topic} due',
    'where does {name} travel for work',
    'what does {name} use for {topic}',
  ]
  return Array.from({ length: count }, () =>
    pick(random, forms).replace('{name}', pick(random, NAMES)).replace('{topic}', pick(random, TOPICS)),
  )
}
