import { sqliteOverhead } from './sqlite-overhead.js'

// `pnpm bench` runs the quick benchmarks; the long vector benchmarks have their own scripts (see docs/).
console.log(`engram benchmarks on Node ${process.version}, ${process.platform}/${process.arch}`)
await sqliteOverhead()
