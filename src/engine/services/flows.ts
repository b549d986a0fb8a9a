import { FlowProducer, Job, type FlowJob, type JobNode } from 'bullmq';
import type { Keys, RedisClient } from '../../redis/index.ts';
import type { ChildResult, FlowClient, FlowJobRef, FlowNode } from '../../sdk/services.ts';
import { ValidationError } from '../errors.ts';
import type { Producer } from '../producer.ts';

/**
 * Stores flows with BullMQ's `FlowProducer`: the whole tree in one
 * transaction, each job validated and enveloped like a submission. Every child
 * fails its parent when it fails for good (`failParentOnFailure`), so a
 * parent never waits forever.
 */
export class Flows {
  private producer?: FlowProducer;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly jobs: Producer,
  ) {}

  client(submittedBy: string): FlowClient {
    return {
      add: async (root) => toRef(await this.flowProducer().add(this.toFlowJob(root, submittedBy, 'flow'))),
    };
  }

  /** The results of a parent job's finished children. */
  async childResults(job: Job): Promise<ChildResult[]> {
    const values = await job.getChildrenValues();
    return Promise.all(
      Object.entries(values).map(async ([key, result]) => {
        const id = key.slice(key.indexOf('}:') + 2);
        const type = (await this.redis.hget(key, 'name')) ?? 'unknown';
        return { id, type, result };
      }),
    );
  }

  async close(): Promise<void> {
    await this.producer?.close();
  }

  private toFlowJob(node: FlowNode, submittedBy: string, path: string): FlowJob {
    let prepared;
    try {
      prepared = this.jobs.prepareJob({ ...node.options, type: node.type, payload: node.payload }, submittedBy);
    } catch (err) {
      if (err instanceof ValidationError) {
        throw new ValidationError(`invalid flow job at ${path}`, err.issues.map((i) => ({ ...i, field: `${path}.${i.field}` })));
      }
      throw err;
    }
    return {
      name: prepared.type,
      queueName: this.keys.bullQueue(prepared.queue),
      data: prepared.data,
      opts: { ...prepared.opts, failParentOnFailure: true },
      children: node.children?.map((child, i) => this.toFlowJob(child, submittedBy, `${path}.children.${i}`)),
    };
  }

  private flowProducer(): FlowProducer {
    if (!this.producer) {
      this.producer = new FlowProducer({ connection: this.redis, prefix: this.keys.prefix });
      // Connection errors surface on the calls that fail.
      this.producer.on('error', () => {});
    }
    return this.producer;
  }
}

function toRef(node: JobNode): FlowJobRef {
  return { id: node.job.id!, type: node.job.name, children: (node.children ?? []).map(toRef) };
}
