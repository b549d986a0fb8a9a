import { defineNitroPlugin } from 'nitropack/runtime';
import { loadConfig } from '../../config/index.ts';
import { createLogger, startRuntime } from '../../engine/index.ts';
import { KeyStore } from '../auth/key-store.ts';
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
    const keys = KeyStore.open(config, (key, file) => {
      // Printed once, to the terminal only: the key is never logged.
      process.stdout.write(
        `\nNo API keys are configured; generated an admin key (its hash is in ${file}):\n\n  ${key}\n\n` +
          'Keep it: it is not shown again.\n\n',
      );
    });
    log.info('taskmaster api ready');
    return { runtime, keys };
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
