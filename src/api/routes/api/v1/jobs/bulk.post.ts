import { defineEventHandler, setResponseStatus } from 'h3';
import { requireScope } from '../../../../auth/require-scope.ts';
import { checkSubmission } from '../../../../auth/submit-policy.ts';
import { readJson } from '../../../../body.ts';
import { useContext } from '../../../../context.ts';
import { httpError } from '../../../../http-error.ts';

/**
 * Submits up to `api.bulkLimit` jobs as `{ jobs: [...] }`. All are validated
 * first: one invalid job stores none and the 400 names every bad field as
 * `jobs.<index>.<field>`.
 */
export default defineEventHandler(async (event) => {
  const key = await requireScope(event, 'submit');
  const body = (await readJson(event)) as { jobs?: unknown };
  const { runtime } = await useContext();

  const limit = runtime.config.api.bulkLimit;
  if (!body || typeof body !== 'object' || !Array.isArray(body.jobs)) {
    throw httpError(400, 'invalid_request', 'body must be { jobs: [...] }', [{ field: 'jobs', message: 'expected an array' }]);
  }
  if (body.jobs.length === 0 || body.jobs.length > limit) {
    throw httpError(400, 'invalid_request', `jobs must hold 1 to ${limit} jobs`, [
      { field: 'jobs', message: `expected 1 to ${limit} jobs, got ${body.jobs.length}` },
    ]);
  }

  await checkSubmission(key, body.jobs, 'jobs');

  const jobs = await runtime.producer.submitBulk(body.jobs, key.name);

  setResponseStatus(event, 202);
  return { jobs };
});
