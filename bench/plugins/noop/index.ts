import { definePlugin, z } from 'taskmaster/sdk';

/** A job type that does nothing: what is measured is the engine around it. */
export default definePlugin({
  name: 'bench-noop',
  version: '1.0.0',
  jobs: {
    'bench.noop': {
      schema: z.object({ i: z.number().int() }),
      handler: () => undefined,
    },
  },
});
