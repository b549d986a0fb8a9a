import { defineEventHandler } from 'h3';
import { requireScope } from '../../../../auth/require-scope.ts';
import { useContext } from '../../../../context.ts';

/** Every API key with its scopes and limits (admin scope); never a key or its hash. */
export default defineEventHandler(async (event) => {
  await requireScope(event, 'admin');
  const { keys } = await useContext();

  return { keys: await keys.list() };
});
