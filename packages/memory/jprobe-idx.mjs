import Database from '../../apps/bench/node_modules/better-sqlite3/lib/index.js'

const db = new Database(':memory:')
db.exec(`CREATE TABLE c (user_id TEXT NOT NULL, conversation_id TEXT NOT NULL, agent_id TEXT, created_at BIGINT NOT NULL, last_activity BIGINT NOT NULL, title TEXT, summary TEXT, persona TEXT, PRIMARY KEY (user_id, conversation_id));
CREATE INDEX a ON c (user_id, last_activity);`)
const ins = db.prepare('INSERT INTO c VALUES (?, ?, NULL, ?, ?, NULL, NULL, NULL)')
db.transaction(() => {
  for (let u = 0; u < 1000; u++)
    for (let k = 0; k < Number(process.argv[2] ?? 10); k++)
      ins.run(`user-${u}`, `conv-${u}-${k}`, k, 1e12 + Math.floor(Math.random() * 1e9))
})()
const sql =
  'SELECT user_id, conversation_id, agent_id, created_at, last_activity, title, summary, persona FROM c WHERE user_id = ? ORDER BY last_activity DESC, conversation_id ASC LIMIT 20 OFFSET 0'
function t(label) {
  const s = db.prepare(sql)
  const N = 50000
  for (let i = 0; i < 5000; i++) s.all(`user-${i % 1000}`)
  const st = process.hrtime.bigint()
  for (let i = 0; i < N; i++) s.all(`user-${i % 1000}`)
  console.log(
    label,
    (Number(process.hrtime.bigint() - st) / N / 1000).toFixed(2),
    'µs',
    JSON.stringify(
      db
        .prepare('EXPLAIN QUERY PLAN ' + sql)
        .all('x')
        .map((r) => r.detail),
    ),
  )
}
t('old index')
t('old index')
db.exec('CREATE INDEX b ON c (user_id, last_activity DESC, conversation_id); DROP INDEX a')
t('new index')
t('new index')
