// kill -9 worker for Memory (the embedded default: a SQLite file with the ANN tier): remembers
// traces and forgets some, acknowledging each call that returned, until the parent kills it.
// argv: file, seed, round
import { Memory } from '@engram/memory'
import { ack, runWorker, seeded } from './worker-support.mjs'

const [file, seed, round] = process.argv.slice(2)
const random = seeded(Number(seed))

/** Text with a word of its own, so recall can find each trace by it. */
function traceText(round, n) {
  return `note ${round} ${n}: the marker word is w${round}x${n}`
}

await runWorker(async () => {
  const memory = await Memory.open({ path: file, exactBelow: 16 })
  const mine = []
  for (let n = 0; ; n++) {
    if (n % 5 === 4 && mine.length > 0) {
      // Only traces whose number is odd are ever forgotten, so the parent knows which may be gone.
      const index = mine.findIndex((t) => t.n % 2 === 1)
      if (index >= 0) {
        const [victim] = mine.splice(index, 1)
        await memory.forget(victim.id)
        ack({ forgotten: victim.id })
        continue
      }
    }
    const text = traceText(round, n)
    const trace = await memory.remember(text, { scope: 'user:kill', metadata: { n, round: Number(round) } })
    mine.push({ id: trace.id, n })
    ack({ remembered: trace.id, text, forgettable: n % 2 === 1 })
    if (random() < 0.1) await memory.recall(text, { scope: 'user:kill', topK: 3 })
  }
})
