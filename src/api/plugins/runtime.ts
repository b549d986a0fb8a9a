import { defineNitroPlugin } from 'nitropack/runtime';
import { loadConfig } from '../../config/index.ts';
import { createLogger, startRuntime } from '../../engine/index.ts';
import { KeyStore } from '../auth/key-store.ts';
import { SessionStore } from '../auth/sessions.ts';
import { provideContext, type ApiContext } from '../context.ts';
import { beginDrain, settled } from '../drain.ts';

/** How long requests still running when the drain starts may take. */
const REQUEST_DRAIN_MS = 10_000;

/**
 * Boots TaskMaster inside the Nitro server. `TASKMASTER_ROLE=all` (the
 * default) also runs workers here; `api` serves HTTP only. A failure to start
 * stops the process loudly instead of serving half a service.
 *
 * Shutdown is ours, not Nitro's: Nitro's own closes the listener at once, so
 * a load balancer would see refused connections instead of 503s. On SIGTERM
 * or SIGINT the API answers new requests 503 (readiness too), running
 * requests and jobs finish (jobs within `worker.drainTimeoutMs`), then the
 * process exits. A second signal exits at once.
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
    // Nitro prints "Listening on" when the socket opens; requests wait until this line.
    const url = `http://${config.api.host.includes(':') ? `[${config.api.host}]` : config.api.host}:${config.api.port}`;
    log.info({ url, dashboard: `${url}/dashboard` }, 'taskmaster api ready');
    return { runtime, keys, sessions };
  })();

  booting.catch((err) => {
    log.fatal({ err: { message: err.message } }, 'taskmaster failed to start');
    process.exit(1);
  });
  provideContext(booting);

  // Read by Nitro's node-server entry after plugins run.
  process.env.NITRO_SHUTDOWN_DISABLED = '1';

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      const { runtime } = await booting;
      await Promise.all([runtime.stop(), settled(REQUEST_DRAIN_MS)]);
      log.info('taskmaster stopped');
    })());

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting without draining');
      process.exit(1);
    }
    beginDrain();
    log.info({ signal, drainTimeoutMs: config.worker.drainTimeoutMs }, 'draining');
    stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  nitroApp.hooks.hook('close', stop);
});
