import { defineEventHandler, setResponseStatus } from 'h3';
import { requireScope } from '../../../../auth/require-scope.ts';
import { checkSubmission } from '../../../../auth/submit-policy.ts';
import { readJson } from '../../../../body.ts';
import { useContext } from '../../../../context.ts';

/** Submits one job: 202 when stored, 200 with `duplicate: true` for a known idempotency key. */
export default defineEventHandler(async (event) => {
  const key = await requireScope(event, 'submit');
  const body = await readJson(event);
  await checkSubmission(key, [body]);
  const { runtime } = await useContext();

  const submitted = await runtime.producer.submit(body, key.name);

  setResponseStatus(event, submitted.duplicate ? 200 : 202);
  return submitted;
});
