export { driver } from './driver.js'
export { createSqliteNativeAdapter, type SqliteNativeConfig } from './sqlite-native-adapter.js'
