export { cleanEnv } from './clean-env.js'
export {
  buildFirstHourApp,
  EVERY_PACKAGE_FILE,
  type FirstHourApp,
  removeFirstHourApp,
  requireEveryEntry,
  runSnippet,
  type SnippetRun,
  type UnpackedPackage,
} from './first-hour-app.js'
export {
  APP_PROJECTS,
  type FreshAppOptions,
  npmInstall,
  STRICT_CONSUMER_OPTIONS,
  TSC_INIT_OPTIONS,
  writeFreshApp,
} from './fresh-app.js'
export {
  installClosure,
  installedInstallProblems,
  peersOf,
  staticInstallProblems,
} from './install-closure.js'
export { type InstallSpec, installedPackages, installSpec } from './install-line.js'
export {
  entrySpecifiers,
  exportEntries,
  manifestProblems,
  REPOSITORY_URL,
  REPOSITORY_WEB,
} from './manifest-problems.js'
export { type CheckMarker, type CheckMode, type MarkdownBlock, markdownBlocks } from './markdown-blocks.js'
export { importedPackages, moduleSpecifiers } from './module-specifiers.js'
export { type PackedPackage, packWorkspace, pnpmCommand } from './pack-workspace.js'
export { packageName } from './package-name.js'
export {
  listFiles,
  sourceMapProblems,
  typesPackage,
  undeclaredImportProblems,
} from './packed-files-problems.js'
export { manageSchemas, testPostgresUrl, urlWithSchema } from './postgres-schemas.js'
export {
  checkedReadmes,
  type PackageManifest,
  PUBLISHED_FOLDERS,
  type PublishedPackage,
  publishedPackages,
} from './published-packages.js'
export { absoluteLink, relativeLinkProblems } from './readme-links.js'
export { type ReadmeSnippet, readmeSnippets, snippetFileStem, snippetLabel } from './readme-snippets.js'
export {
  type CommandResult,
  failureExcerpt,
  outputTail,
  type RunCommandOptions,
  runCommand,
} from './run-command.js'
export {
  type LoadedModule,
  packageOfUrl,
  readLoads,
  STILL_RUNNING_EXIT,
  writeHarness,
} from './snippet-harness.js'
export { runFailure, snippetTitle, snippetVerdict } from './snippet-verdict.js'
export { type Diagnostic, parseDiagnostics, type TypecheckResult, typecheckApp } from './typecheck.js'
