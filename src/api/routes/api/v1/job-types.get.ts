import { defineEventHandler } from 'h3';
import { payloadJsonSchema } from '../../../../plugins/index.ts';
import { requireScope } from '../../../auth/require-scope.ts';
import { useContext } from '../../../context.ts';

/** Every job type with its plugin, version and payload JSON Schema. */
export default defineEventHandler(async (event) => {
  await requireScope(event, 'read');
  const { runtime } = await useContext();

  const jobTypes = runtime.registry.types().map((entry) => ({
    type: entry.type,
    plugin: entry.plugin.name,
    version: entry.plugin.version,
    hash: entry.plugin.hash,
    description: entry.definition.description,
    defaults: entry.definition.defaults ?? {},
    schema: payloadJsonSchema(entry),
  }));
  return { jobTypes };
});
