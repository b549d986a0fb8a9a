import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, packageRoot } from '../../config/index.ts';
import { CliError } from './cli-error.ts';

const PLUGIN_NAME = /^[a-z][a-z0-9-]{0,63}$/;

/**
 * `new-plugin NAME [--dir D]`: writes a plugin skeleton (a job type with a
 * schema and a handler, and a test) into the first folder of `plugins.dirs`
 * (`./my-plugins` by default), or `D`, and prints the command that runs its
 * test. A running TaskMaster watching that folder serves it at once.
 */
export async function runNewPlugin(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { dir: { type: 'string' } } });
  const name = positionals[0];
  if (!name) throw new CliError('usage: taskmaster new-plugin NAME [--dir DIR]');
  if (!PLUGIN_NAME.test(name)) throw new CliError(`plugin name must be lower-case letters, digits and dashes, got ${name}`);

  const base = values.dir ? resolve(values.dir) : loadConfig().plugins.dirs[0];
  if (!base) throw new CliError('plugins.dirs is empty: pass --dir DIR, or name a folder in plugins.dirs');
  const folder = join(base, name);
  if (existsSync(folder)) throw new CliError(`${folder} already exists`);

  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'index.ts'), pluginSource(name));
  writeFileSync(join(folder, 'index.test.ts'), testSource(name));
  const testConfig = join(packageRoot(), 'vitest.plugins.config.ts');
  process.stdout.write(
    `created ${folder}\n  index.ts       the plugin: job type ${name}.hello\n  index.test.ts  its test\n` +
      `Test it: npx vitest run --config ${shown(testConfig)} --dir ${shown(folder)}\n` +
      `Submit a job: taskmaster enqueue ${name}.hello --data '{"name":"Ada"}'\n`,
  );
  return 0;
}

/** A path as short as it can be said from the working directory. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

function pluginSource(name: string): string {
  return `import { defineJobType, definePlugin, PermanentError, z } from 'taskmaster/sdk';

/** What a \`${name}.hello\` job carries. Submissions that do not match get a 400 naming the field. */
const helloPayload = z.object({
  name: z.string().min(1),
  shout: z.boolean().default(false),
});

export default definePlugin({
  name: '${name}',
  // Recorded on every attempt, beside a hash of these files.
  version: '0.1.0',
  jobs: {
    '${name}.hello': defineJobType({
      description: 'Greets someone. Replace with your own job.',
      schema: helloPayload,
      // A job's own options win over these, which win over the service's defaults.
      defaults: { retries: 3, timeoutMs: 30_000 },
      handler: async (payload, ctx) => {
        ctx.log.info({ attempt: ctx.attempt }, 'greeting');
        // Throwing PermanentError fails the job at once; any other error is retried with backoff.
        if (payload.name === 'nobody') throw new PermanentError('there is nobody to greet');

        // Progress is a number from 0 to 100 (or an object); report it as the work advances.
        await ctx.progress(10);
        const greeting = \`hello \${payload.name}\`;
        const result = { greeting: payload.shout ? greeting.toUpperCase() : greeting };

        // Done: the last report says so, before the result is returned.
        await ctx.progress(100);
        return result;
      },
    }),
  },
});
`;
}

function testSource(name: string): string {
  return `import { describe, expect, it } from 'vitest';
import type { HandlerContext } from 'taskmaster/sdk';
import plugin from './index.ts';

const hello = plugin.jobs['${name}.hello'];

/** A handler context for tests: no worker needed. */
function context(overrides: Partial<HandlerContext> = {}): HandlerContext {
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  return {
    jobId: 'test-job',
    type: '${name}.hello',
    attempt: 1,
    signal: new AbortController().signal,
    log: quiet,
    progress: async () => {},
    config: undefined,
    http: { fetch: () => Promise.reject(new Error('no network in tests')) },
    ...overrides,
  };
}

function payload(input: unknown) {
  const parsed = hello.schema.safeParse(input);
  if (!parsed.success) throw new Error('invalid payload');
  return parsed.data;
}

describe('${name}.hello', () => {
  it('rejects a payload without a name', () => {
    expect(hello.schema.safeParse({}).success).toBe(false);
  });

  it('greets by name', async () => {
    await expect(hello.handler(payload({ name: 'Ada' }), context())).resolves.toEqual({ greeting: 'hello Ada' });
  });

  it('reports progress that rises to 100', async () => {
    const reported: unknown[] = [];
    await hello.handler(payload({ name: 'Ada' }), context({ progress: async (value) => void reported.push(value) }));
    expect(reported.at(-1)).toBe(100);
    expect(reported).toEqual([...reported].sort((a, b) => Number(a) - Number(b)));
  });

  it('fails for good when there is nobody to greet', async () => {
    await expect(hello.handler(payload({ name: 'nobody' }), context())).rejects.toMatchObject({ name: 'PermanentError' });
  });
});
`;
}
