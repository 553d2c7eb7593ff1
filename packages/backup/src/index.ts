export {
  type BackupCatalog,
  type BackupCatalogOptions,
  type BackupSelector,
  createBackupCatalog,
} from './backup-catalog.js'
export type {
  BackupDestination,
  FetchedObject,
  ObjectMetadata,
  StoredObject,
  TransferProgress,
} from './backup-destination.js'
export type { BackupEvent, BackupInfo, BackupPhase } from './backup-events.js'
export type { PruneResult } from './backup-listing.js'
export { type BackupManager, createBackupManager } from './backup-manager.js'
export { type BackupManifest, MANIFEST_VERSION } from './backup-manifest.js'
export { type BackupCompression, type BackupFormat, DEFAULT_BACKUP_NAME } from './backup-names.js'
export type { BackupManagerOptions } from './backup-options.js'
export {
  type CloudBackupManager,
  type CloudBackupOptions,
  createCloudBackupManager,
} from './create-cloud-backup-manager.js'
export { folderDestination } from './folder-destination.js'
export type { RestoreOptions, RestoreResult, RestoreTarget } from './restore-backup.js'
export {
  type S3ClientLike,
  type S3Credentials,
  type S3DestinationConfig,
  s3Destination,
} from './s3-destination.js'
