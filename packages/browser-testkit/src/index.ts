export { type BundleOptions, bundle } from './bundle.js'
export { CHROMIUM_PATH, chromiumAvailable, chromiumMissing } from './chromium-available.js'
export {
  CHROMIUM_FLAGS,
  type ChromiumSession,
  type LaunchChromiumOptions,
  launchChromium,
} from './launch-chromium.js'
export { page, type RouteBody, type ServeOptions, type Site, serve } from './serve.js'
