import type { BackupEvent, BackupPhase } from '@engram/backup'
import { say } from './command.js'
import { ProgressBar, type ProgressStream } from './progress-bar.js'

const LABELS: Record<BackupPhase, string> = {
  snapshot: 'snapshot',
  compress: 'compress (bytes)',
  upload: 'upload (bytes)',
  download: 'download (bytes)',
  verify: 'verify (bytes)',
  restore: 'restore (bytes)',
}

/**
 * An `onEvent` for the backup commands: a bar per phase (compress, upload, download, verify,
 * restore) and a line per retry or skipped step, on stderr. With `--json` the bars are drawn
 * only on a terminal, so a script reading stderr sees only errors.
 */
export function backupProgress(stream: ProgressStream, json: boolean): (event: BackupEvent) => void {
  const quiet = json && stream.isTTY !== true
  let phase: BackupPhase | undefined
  let bar: ProgressBar | undefined
  return (event) => {
    if (event.type === 'backup-failed' && event.willRetry) {
      say(
        stream,
        `  attempt ${event.attempt} failed (${event.error.message}); retrying in ${event.retryInMs} ms`,
      )
      return
    }
    if (event.type === 'prune-failed') {
      say(stream, `  the backup is stored, but pruning old ones failed: ${event.error.message}`)
      return
    }
    if (quiet || event.type !== 'progress' || event.total === undefined) return
    if (event.phase !== phase || bar === undefined) {
      phase = event.phase
      bar = new ProgressBar(LABELS[event.phase], { stream })
    }
    bar.update(event.bytes, event.total)
  }
}
