import { isAbsolute, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type BackupDestination, folderDestination, s3Destination } from '@engram/backup'
import { UsageError } from './command.js'

/** What `--to` (or `--from`) and the options around it say about where backups live. */
export interface BackupPlace {
  /** `s3://bucket/prefix`, `file:///path`, or a folder path. */
  readonly to: string
  /** An S3-compatible endpoint (R2, MinIO); path-style addressing is used with it. */
  readonly endpoint?: string
  /** The S3 region. Default is `$AWS_REGION`, else `us-east-1`. */
  readonly region?: string
}

/**
 * The destination a `--to` URL names: `s3://bucket/prefix` (credentials from the AWS SDK's
 * usual chain: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, profiles, roles), `file:///path`
 * or a plain folder path. Anything else is a usage error.
 */
export function backupDestinationFromUrl(place: BackupPlace): BackupDestination {
  const { to, endpoint, region } = place
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(to)?.[1]?.toLowerCase()
  if (scheme === 's3') {
    const rest = to.slice('s3://'.length)
    const slash = rest.indexOf('/')
    const bucket = slash === -1 ? rest : rest.slice(0, slash)
    const prefix = slash === -1 ? '' : rest.slice(slash + 1)
    if (bucket.length === 0) throw new UsageError(`--to ${to} names no bucket; write s3://bucket/prefix`)
    return s3Destination({
      bucket,
      prefix,
      ...(endpoint === undefined ? {} : { endpoint }),
      ...(region === undefined ? {} : { region }),
    })
  }
  if (endpoint !== undefined) throw new UsageError('--endpoint goes with an s3:// destination')
  if (scheme === 'file') return folderDestination(fileURLToPath(to))
  if (scheme !== undefined) {
    throw new UsageError(`--to takes s3://bucket/prefix, file:///path or a folder path; got ${to}`)
  }
  return folderDestination(isAbsolute(to) ? to : resolve(to))
}
