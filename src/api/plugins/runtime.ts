import { defineNitroPlugin } from 'nitropack/runtime';
import { loadConfig } from '../../config/index.ts';
import { createLogger, startRuntime } from '../../engine/index.ts';
import { KeyStore } from '../auth/key-store.ts';
import { SessionStore } from '../auth/sessions.ts';
import { provideContext, type ApiContext } from '../context.ts';

/**
 * Boots TaskMaster inside the Nitro server. `TASKMASTER_ROLE=all` (the
 * default) also runs workers here; `api` serves HTTP only. A failure to start
 * stops the process loudly instead of serving half a service.
 */
export default defineNitroPlugin((nitroApp) => {
  const role = process.env.TASKMASTER_ROLE ?? 'all';
  const config = loadConfig();
  const log = createLogger(config.log.level, { role });

  const booting: Promise<ApiContext> = (async () => {
    const runtime = await startRuntime({ config, workers: role === 'all', log });
    const keys = new KeyStore(runtime.redis, runtime.keys, config);
    const generated = await keys.bootstrap();
    if (generated) {
      // Printed once, to the terminal only: the key is never logged.
      process.stdout.write(
        `\nNo API keys are configured; generated an admin key (only its hash is kept, in Redis):\n\n  ${generated}\n\n` +
          'Keep it: it is not shown again. Make more with `taskmaster keys create`.\n\n',
      );
      await runtime.audit.record({ actor: 'system', action: 'key.create', target: 'generated-admin', details: { scopes: ['admin'] } });
    }
    const sessions = new SessionStore(runtime.redis, runtime.keys, config.dashboard.sessionTtlMs);
    log.info('taskmaster api ready');
    return { runtime, keys, sessions };
  })();

  booting.catch((err) => {
    log.fatal({ err: { message: err.message } }, 'taskmaster failed to start');
    process.exit(1);
  });
  provideContext(booting);

  nitroApp.hooks.hook('close', async () => {
    const { runtime } = await booting;
    await runtime.stop();
    log.info('taskmaster stopped');
  });
});
