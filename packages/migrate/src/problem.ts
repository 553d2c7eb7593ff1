import { StorageError, type StorageErrorCode } from '@engram/core'

/** A reason a migration cannot run as asked, found before anything is written. */
export interface Problem {
  /** `UNSUPPORTED` for what cannot be translated, `INVALID_ARGUMENT` for what the options or the target rule out, `NOT_FOUND` for names that do not exist. */
  readonly code: StorageErrorCode
  /** What is wrong and what to do, in a sentence. */
  readonly message: string
}

/** The error a migration with problems throws: the first problem's code (UNSUPPORTED first), every message listed. */
export function problemsError(problems: readonly Problem[]): StorageError {
  const code = problems.find((p) => p.code === 'UNSUPPORTED')?.code ?? problems[0]?.code ?? 'INVALID_ARGUMENT'
  const list = problems.map((p) => `- ${p.message}`).join('\n')
  return new StorageError(code, `The migration cannot run; nothing was written:\n${list}`)
}
