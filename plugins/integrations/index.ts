import { definePlugin } from '../../src/sdk/index.ts';
import { apiSyncSchema, syncApi } from './api-sync.ts';
import {
  enrichLead,
  enrichSchema,
  lookupLead,
  lookupSchema,
  normaliseLead,
  normaliseSchema,
  scoreLead,
  stepSchema,
  storeLead,
} from './enrichment.ts';
import { feedSchema, ingestFeed } from './feed-ingest.ts';

/**
 * Integrations with external HTTP services, all through `ctx.http` (timeouts,
 * the outbound guard) and `failureForStatus` (one retry rule). Settings:
 * `plugins.settings.integrations` (enrichment providers and scoring rules).
 */
export default definePlugin({
  name: 'integrations',
  version: '1.0.0',
  jobs: {
    'lead.enrich': {
      description: 'Start the lead enrichment flow: normalise → look up in each provider → score → store.',
      schema: enrichSchema,
      handler: enrichLead,
    },
    'lead.normalise': { description: 'Enrichment step: tidy the lead.', schema: normaliseSchema, handler: normaliseLead },
    'lead.lookup': { description: 'Enrichment step: ask one provider.', schema: lookupSchema, handler: lookupLead },
    'lead.score': { description: 'Enrichment step: score by the configured rules.', schema: stepSchema, handler: scoreLead },
    'lead.store': { description: 'Enrichment step: upsert the enriched lead.', schema: stepSchema, handler: storeLead },
    'api.sync': {
      description: 'Page through an HTTP API with a cursor into a table, resumable, within its rate limit.',
      schema: apiSyncSchema,
      handler: syncApi,
      defaults: { timeoutMs: 60 * 60 * 1000 },
    },
    'feed.ingest': {
      description: "Fetch a partner's CSV/JSON feed, validate and import it, skipping unchanged content.",
      schema: feedSchema,
      handler: ingestFeed,
      defaults: { timeoutMs: 30 * 60 * 1000 },
    },
  },
});
