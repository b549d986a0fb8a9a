/**
 * Marks a schema's value as a secret, across copies of the SDK and of zod
 * (a global symbol, not a registry that a second copy would not share).
 */
export const SECRET_MARK = Symbol.for('taskmaster.secret');

/**
 * Marks a payload field as secret: TaskMaster encrypts it before the job is
 * stored, decrypts it only in the worker for the handler, and shows it as
 * `"[secret]"` in the API and the dashboard. Needs `secrets.key` configured.
 *
 * ```ts
 * schema: z.object({ url: z.url(), token: secret(z.string()) }),
 * ```
 */
export function secret<S extends object>(schema: S): S {
  Object.defineProperty(schema, SECRET_MARK, { value: true, enumerable: false });
  return schema;
}
