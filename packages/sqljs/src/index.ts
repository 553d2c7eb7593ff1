export { driver } from './driver.js'
export type { SqlJsDatabase, SqlJsLoadOptions, SqlJsStatement, SqlJsStatic } from './load-sqljs.js'
export { createSqlJsAdapter, type SqlJsAdapter, type SqlJsConfig } from './sqljs-adapter.js'
