import { type StorageAdapter, StorageError } from '@engram/core'
import type { BackupManifest } from './backup-manifest.js'

function pending(): never {
  throw new StorageError('UNSUPPORTED', 'logical backups are not wired yet')
}

export async function exportLogical(
  _adapter: StorageAdapter,
  _file: string,
  _tables: readonly string[] | null,
): Promise<void> {
  pending()
}

export async function importLogical(
  _file: string,
  _target: StorageAdapter,
  _options: { replace: boolean; manifest: BackupManifest },
): Promise<void> {
  pending()
}

export async function importImageRows(
  _file: string,
  _target: StorageAdapter,
  _options: { replace: boolean; manifest: BackupManifest },
): Promise<void> {
  pending()
}

export async function restoreLogicalToFile(
  _file: string,
  _path: string,
  _manifest: BackupManifest,
): Promise<void> {
  pending()
}
