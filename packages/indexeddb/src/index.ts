export { driver } from './driver.js'
export { indexedDbName } from './image-store.js'
export {
  createIndexedDbAdapter,
  type IndexedDbAdapter,
  type IndexedDbConfig,
  type IndexedDbDurability,
} from './indexeddb-adapter.js'
export { LocalLockManager } from './local-lock-manager.js'
