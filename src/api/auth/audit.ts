import type { AuditEntry, AuditInput } from '../../engine/index.ts';
import { useContext } from '../context.ts';
import type { ApiKey } from './key-store.ts';

/**
 * Records an action taken through the API in the audit log, with the calling
 * key's name as the actor. Call it after the action succeeded and before
 * answering: a failure to record answers 503 instead of a silent success.
 *
 * ```ts
 * const key = await requireScope(event, 'admin');
 * await runtime.dlq.replay(id);
 * await recordAudit(key, { action: 'dlq.replay', jobId: id });
 * ```
 */
export async function recordAudit(key: ApiKey, input: Omit<AuditInput, 'actor'>): Promise<AuditEntry> {
  const { runtime } = await useContext();
  return runtime.audit.record({ actor: key.name, ...input });
}
