/** The memory scope that holds one user's memories; recall and delete never look outside it. */
export function userScope(userId: string): string {
  return `user:${userId}`
}
