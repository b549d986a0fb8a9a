import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.ts';
import { tempDir } from '../helpers/runtime.ts';

function loadFile(config: object): () => unknown {
  const file = join(tempDir('tm-config-'), 'taskmaster.config.json');
  writeFileSync(file, JSON.stringify(config));
  return () => loadConfig({ TASKMASTER_CONFIG: file });
}

describe('loadConfig', () => {
  it('refuses unknown keys at every level, naming each with its path', () => {
    const load = loadFile({
      nope: true,
      api: { bogus: 1, port: 3001 },
      queues: { default: { concurency: 3, weights: { urgent: 2 } } },
      plugins: { dirs: [], watchh: false },
    });

    expect(load).toThrow(ConfigError);
    const message = (() => {
      try {
        load();
      } catch (err) {
        return (err as Error).message;
      }
    })();
    for (const path of ['nope', 'api.bogus', 'queues.default.concurency', 'queues.default.weights.urgent', 'plugins.watchh']) {
      expect(message).toContain(`  ${path}: unknown option`);
    }
  });

  it('keeps free-form records open: plugin settings, queue and tenant names, databases, schedule payloads', () => {
    const config = loadFile({
      plugins: { settings: { webhooks: { anything: { nested: [1, 2] } }, mine: 'text' } },
      queues: { default: {}, realtime: { concurrency: 5, tenants: { acme: { weight: 2 } } } },
      databases: { main: { url: 'postgres://app@127.0.0.1:5432/app' } },
      schedules: { nightly: { cron: '0 3 * * *', type: 'x.y', payload: { free: { form: true } } } },
    })() as ReturnType<typeof loadConfig>;

    expect(config.plugins.settings).toEqual({ webhooks: { anything: { nested: [1, 2] } }, mine: 'text' });
    expect(Object.keys(config.queues).sort()).toEqual(['default', 'realtime']);
    expect(config.queues.realtime!.tenants.acme!.weight).toBe(2);
    expect(config.schedules.nightly!.payload).toEqual({ free: { form: true } });
  });

  it('names the environment variable an invalid option came from, without a secret value', () => {
    const file = join(tempDir('tm-config-'), 'taskmaster.config.json');
    writeFileSync(file, JSON.stringify({ api: { port: 3001 }, log: { level: 'loud' } }));

    const message = (() => {
      try {
        loadConfig({ TASKMASTER_CONFIG: file, PORT: 'abc', REDIS_URL: 'ftp://user:hunter2@127.0.0.1' });
      } catch (err) {
        return (err as Error).message;
      }
    })();

    expect(message).toContain(`invalid configuration in ${file}`);
    expect(message).toContain('  api.port (environment variable PORT=abc):');
    expect(message).toContain('  log.level:');
    expect(message).not.toContain('log.level (environment');
    expect(message).not.toContain('hunter2');
  });
});
