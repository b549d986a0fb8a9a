import { createTableIfMissing, failureForStatus, insertRows, PermanentError, quoteIdent, z, type HandlerContext } from '../../src/sdk/index.ts';
import { settingsOf } from './settings.ts';

/** A lead as it enters the pipeline. */
const leadSchema = z.object({ email: z.string().min(3).max(320), name: z.string().max(200).optional(), company: z.string().max(200).optional() }).passthrough();

export const enrichSchema = z.object({
  lead: leadSchema,
  /** Providers to ask, in order; default every configured one. */
  providers: z.array(z.string()).optional(),
});
export const normaliseSchema = z.object({ lead: leadSchema });
export const lookupSchema = z.object({ provider: z.string() });
export const stepSchema = z.object({});

/** What flows from step to step: the normalised lead and what each provider said. */
interface LeadState {
  lead: { email: string; domain: string; name?: string; company?: string };
  found: Record<string, unknown>;
  score?: number;
}

/**
 * `lead.enrich`: stores the pipeline as one BullMQ flow, a chain in which
 * each job runs after its child: normalise → lookup (each provider in turn)
 * → score → store. Each step is its own job, so a failing lookup retries
 * alone, and the `lead.store` job at the top shows its children's states.
 */
export async function enrichLead(payload: z.infer<typeof enrichSchema>, ctx: HandlerContext) {
  const { enrichment } = settingsOf(ctx.config);
  const providers = payload.providers ?? Object.keys(enrichment.providers);
  const unknown = providers.filter((p) => !enrichment.providers[p]);
  if (unknown.length) throw new PermanentError(`unknown enrichment providers: ${unknown.join(', ')}`, { reason: 'unknown_provider' });

  let chain = { type: 'lead.normalise', payload: { lead: payload.lead } } as Parameters<HandlerContext['flow']['add']>[0];
  for (const provider of providers) chain = { type: 'lead.lookup', payload: { provider }, children: [chain] };
  const flow = await ctx.flow.add({ type: 'lead.store', payload: {}, children: [{ type: 'lead.score', payload: {}, children: [chain] }] });

  return { flowId: flow.id, providers };
}

/** `lead.normalise`: trims and lower-cases the e-mail, takes its domain, tidies the names. */
export function normaliseLead(payload: z.infer<typeof normaliseSchema>): LeadState {
  const email = payload.lead.email.trim().toLowerCase();
  const match = /^[^@\s]+@([a-z0-9.-]+\.[a-z]{2,})$/.exec(email);
  if (!match) throw new PermanentError(`not an e-mail address: ${email}`, { reason: 'invalid_email' });
  const tidy = (s?: string) => s?.trim().replace(/\s+/g, ' ') || undefined;
  return { lead: { email, domain: match[1], name: tidy(payload.lead.name), company: tidy(payload.lead.company) }, found: {} };
}

/** `lead.lookup`: asks one provider about the lead; a 404 means it knows nothing, not a failure. */
export async function lookupLead(payload: z.infer<typeof lookupSchema>, ctx: HandlerContext): Promise<LeadState> {
  const state = await previousState(ctx);
  const provider = settingsOf(ctx.config).enrichment.providers[payload.provider];
  if (!provider) throw new PermanentError(`unknown enrichment provider ${payload.provider}`, { reason: 'unknown_provider' });

  const url = provider.url
    .replaceAll('{email}', encodeURIComponent(state.lead.email))
    .replaceAll('{domain}', encodeURIComponent(state.lead.domain));
  const response = await ctx.http.fetch(url, { headers: { accept: 'application/json', ...provider.headers }, timeoutMs: provider.timeoutMs });
  if (response.status === 404) {
    await response.body?.cancel();
    return { ...state, found: { ...state.found, [payload.provider]: null } };
  }
  const failure = failureForStatus(response.status, response.headers.get('retry-after'), `provider ${payload.provider}`);
  if (failure) {
    await response.body?.cancel();
    throw failure;
  }
  return { ...state, found: { ...state.found, [payload.provider]: await response.json() } };
}

/** `lead.score`: adds the points of every configured rule that matches. */
export async function scoreLead(_payload: unknown, ctx: HandlerContext): Promise<LeadState> {
  const state = await previousState(ctx);
  let score = 0;
  for (const rule of settingsOf(ctx.config).enrichment.rules) {
    const value = pick(state.found[rule.provider], rule.field);
    const matches =
      rule.gte !== undefined ? typeof value === 'number' && value >= rule.gte : rule.equals !== undefined ? value === rule.equals : value != null;
    if (matches) score += rule.points;
  }
  return { ...state, score };
}

/** `lead.store`: upserts the enriched lead by e-mail into the configured table. */
export async function storeLead(_payload: unknown, ctx: HandlerContext) {
  const state = await previousState(ctx);
  const { database, table } = settingsOf(ctx.config).enrichment;
  const db = ctx.db(database);
  await createTableIfMissing(
    db,
    `CREATE TABLE IF NOT EXISTS ${quoteIdent(table)} (
       email text PRIMARY KEY, domain text NOT NULL, name text, company text,
       enrichment jsonb NOT NULL, score integer NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`,
  );
  const row = { ...state.lead, enrichment: JSON.stringify(state.found), score: Math.round(state.score ?? 0), updated_at: new Date().toISOString() };
  await insertRows(db, table, [row], { columns: ['email'], action: 'update' });
  return { email: state.lead.email, score: row.score, providers: Object.keys(state.found) };
}

/** The state the step below handed up (each step has exactly one child). */
async function previousState(ctx: HandlerContext): Promise<LeadState> {
  const [child] = await ctx.children();
  if (!child) throw new PermanentError('this step runs only inside a lead.enrich flow', { reason: 'no_child' });
  return child.result as LeadState;
}

function pick(value: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((v, key) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined), value);
}
