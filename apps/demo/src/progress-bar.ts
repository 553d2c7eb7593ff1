// The demo draws its progress with the engram CLI's bar, so there is one implementation.
export { formatMs, ProgressBar } from '@engram/cli'
