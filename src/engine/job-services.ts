import type { RedisClient } from '../redis/index.ts';
import { PermanentError } from '../core/index.ts';
import type { Keys } from '../redis/index.ts';
import type { HandlerContext } from '../sdk/types.ts';
import { jobCheckpoint } from './checkpoint.ts';
import { errorName } from '../core/errors.ts';
import type { FileStoreService } from './file-store.ts';
import type { Inbox } from './inbox.ts';
import type { Producer } from './producer.ts';

/** The engine services every handler gets through its context. */
export interface JobServices {
  redis: RedisClient;
  keys: Keys;
  files: FileStoreService;
  inbox: Inbox;
  producer: Producer;
}

type ServiceContext = Pick<HandlerContext, 'files' | 'notifications' | 'checkpoint' | 'submit'>;

/** The service part of one job's handler context. */
export function serviceContext(
  services: JobServices,
  job: { id: string; queue: string; tenant?: string },
): ServiceContext {
  return {
    files: services.files.forJob(job.id),
    notifications: services.inbox,
    checkpoint: jobCheckpoint(services.redis, services.keys.job(job.queue, job.id)),
    async submit(followUp) {
      try {
        const { id, duplicate } = await services.producer.submit(
          { ...followUp, tenant: followUp.tenant ?? job.tenant },
          `job:${job.id}`,
        );
        return { id, duplicate };
      } catch (err) {
        // A follow-up that does not validate never will: retrying cannot help.
        if (errorName(err) !== 'ValidationError') throw err;
        const issues = (err as { issues?: { field: string; message: string }[] }).issues ?? [];
        const where = issues.map((i) => `${i.field}: ${i.message}`).join('; ');
        throw new PermanentError(`follow-up ${followUp.type} job is invalid: ${where}`, { reason: 'invalid_follow_up' });
      }
    },
  };
}
