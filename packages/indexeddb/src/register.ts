/**
 * Importing this module registers the `indexeddb` driver and its fallback, `sqljs`, with
 * `@engram/core`, so `createDatabase({ type: 'auto' })` finds them in a bundled page, where
 * core cannot import driver packages by name.
 *
 * @example
 * import '@engram/indexeddb/register'
 * const db = await createDatabase({ type: 'auto', name: 'notes' })
 */
import { registerDriver } from '@engram/core'
import { driver as sqljsDriver } from '@engram/sqljs'
import { driver } from './driver.js'

registerDriver(driver)
registerDriver(sqljsDriver)
