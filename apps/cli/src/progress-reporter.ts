import { ProgressBar, type ProgressStream } from './progress-bar.js'

/**
 * An `onProgress` for migrate, verify, export and import: one bar per table or collection and
 * phase, on stderr. With `--json` the bars are drawn only on a terminal, so a script reading
 * stderr sees only errors.
 */
export function progressReporter(
  stream: ProgressStream,
  json: boolean,
): (done: number, total: number, name: string, detail?: { kind: string; phase: string }) => void {
  if (json && stream.isTTY !== true) return () => undefined
  let key = ''
  let bar: ProgressBar | undefined
  return (done, total, name, detail) => {
    const next = `${detail?.phase ?? ''}:${detail?.kind ?? ''}:${name}`
    if (next !== key || bar === undefined) {
      key = next
      const verb = detail?.phase === 'verify' ? 'verify' : detail ? 'copy' : ''
      bar = new ProgressBar(verb ? `${verb} ${name}` : name, { stream })
    }
    bar.update(done, total)
  }
}
