export { type CapacitorConfig, createCapacitorAdapter } from './capacitor-adapter.js'
export { capacitorErrorCode } from './capacitor-error-code.js'
export { driver } from './driver.js'
export type { CapacitorPlatform } from './plugin-value.js'
