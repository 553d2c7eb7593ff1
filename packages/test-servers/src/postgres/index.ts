export { admin, adminRows, freshName, PG_URL, redactUrl, requirePostgres } from './test-database.js'
