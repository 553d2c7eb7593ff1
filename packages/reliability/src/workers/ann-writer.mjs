// kill -9 worker for the ANN tier (@engram/sqlite-vector on @engram/hnsw-sidecar): upserts new
// records, replaces vectors, deletes records and searches (so the index catches up and persists
// often), acknowledging each committed write, until the parent kills it.
// argv: file, seed
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { createSqliteVectorStore } from '@engram/sqlite-vector'
import { DIMENSION, deletable, vectorOf } from './vector-shapes.mjs'
import { ack, runWorker, seeded } from './worker-support.mjs'

const [file, seed] = process.argv.slice(2)
const random = seeded(Number(seed))

await runWorker(async () => {
  const adapter = createSqliteNativeAdapter({ filename: file })
  const store = createSqliteVectorStore({ adapter, ann: { path: file, persistEvery: 25 }, exactBelow: 16 })
  await store.createCollection('docs', { dimension: DIMENSION })
  const known = new Map()
  for await (const batch of store.scan('docs', { batchSize: 500 })) {
    for (const record of batch) known.set(Number(record.id.slice(1)), record.metadata.v)
  }
  let next = Math.max(0, ...known.keys()) + 1
  for (;;) {
    const roll = random()
    if (roll < 0.55 || known.size < 20) {
      const records = Array.from({ length: 1 + Math.floor(random() * 8) }, () => next++).map((n) => ({
        id: `r${n}`,
        vector: vectorOf(n, 0),
        metadata: { n, v: 0 },
      }))
      await store.upsert('docs', records)
      for (const r of records) known.set(r.metadata.n, 0)
      ack({ upserted: records.map((r) => [r.metadata.n, 0]) })
    } else if (roll < 0.7) {
      const numbers = [...known.keys()]
      const picked = [
        ...new Set(Array.from({ length: 3 }, () => numbers[Math.floor(random() * numbers.length)])),
      ]
      const records = picked.map((n) => ({
        id: `r${n}`,
        vector: vectorOf(n, known.get(n) + 1),
        metadata: { n, v: known.get(n) + 1 },
      }))
      await store.upsert('docs', records)
      for (const r of records) known.set(r.metadata.n, r.metadata.v)
      ack({ upserted: records.map((r) => [r.metadata.n, r.metadata.v]) })
    } else if (roll < 0.85) {
      const victims = [...known.keys()].filter(deletable).slice(0, 1 + Math.floor(random() * 3))
      if (victims.length === 0) continue
      await store.delete('docs', { ids: victims.map((n) => `r${n}`) })
      for (const n of victims) known.delete(n)
      ack({ deleted: victims })
    } else {
      await store.query('docs', { vector: vectorOf(Math.floor(random() * next), 0), topK: 5 })
    }
  }
})
