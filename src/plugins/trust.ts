import { statSync } from 'node:fs';

/** Anyone may write: the "other" write bit. */
const OTHERS_WRITE = 0o002;

/** Says why a plugin must not be loaded, and where. */
export type RefusalReporter = (path: string, reason: string) => void;

/**
 * Why code at `path` must not be loaded, or undefined when it may be. A file
 * or folder any local user can write to could be swapped for their code,
 * which would then run with TaskMaster's rights: it is refused.
 */
export function untrustedReason(path: string): string | undefined {
  const mode = statSync(path).mode;
  if (mode & OTHERS_WRITE) {
    return `writable by every user (mode ${(mode & 0o777).toString(8)}); run chmod o-w on it to load it`;
  }
  return undefined;
}
