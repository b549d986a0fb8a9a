import { isAbsolute, relative, resolve } from 'node:path';
import { PermanentError, z } from '../../src/sdk/index.ts';

/** `plugins.settings.data`. */
export const settingsSchema = z
  .object({
    /** The folder import paths and export files are read from and written to; unset refuses files. */
    files: z.string().optional(),
  })
  .default({});

/**
 * A file path inside the configured folder. Payloads name files relative to
 * it, so a job can never read or write elsewhere on the machine.
 */
export function filePath(config: unknown, name: string): string {
  const { files } = settingsSchema.parse(config ?? {});
  if (!files) throw new PermanentError('plugins.settings.data.files is not configured', { reason: 'no_file_folder' });

  const path = resolve(files, name);
  const inside = relative(resolve(files), path);
  if (!inside || inside.startsWith('..') || isAbsolute(inside)) {
    throw new PermanentError(`file ${name} is outside the configured folder`, { reason: 'path_outside' });
  }
  return path;
}

/** A database name as payloads give it. */
export const databaseName = z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/);

/** A plain SQL identifier, optionally schema-qualified. */
export const identifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/, 'must be a plain SQL identifier');

