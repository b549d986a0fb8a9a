import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Runs per job id, counted by the handlers the plugins below define (all in this process). */
export function runsOf(): Map<string, number> {
  return ((globalThis as any).__tmRuns ??= new Map<string, number>());
}

/** Markers the plugins' hooks leave, in order: `init:<version>`, `shutdown:<version>`. */
export function hookLog(): string[] {
  return ((globalThis as any).__tmHooks ??= [] as string[]);
}

export interface FlowOptions {
  /** How long each job takes. */
  sleepMs?: number;
  /** When true, the handler only ends when its signal fires. */
  hang?: boolean;
  /** When true, the handler waits for the promise the test put in `globalThis.__tmGate`. */
  gate?: boolean;
  /** Extra plugin fields, as source text. */
  extra?: string;
  name?: string;
  type?: string;
}

/**
 * Source of a plugin with one job type that counts its runs and answers with
 * its version, so a test can tell which version ran each job.
 */
export function flowPlugin(version: string, options: FlowOptions = {}): string {
  const name = options.name ?? 'flow';
  const type = options.type ?? 'flow.work';
  const wait = options.hang
    ? `await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));`
    : options.gate
      ? `await (globalThis as any).__tmGate;`
      : `await new Promise((resolve) => setTimeout(resolve, ${options.sleepMs ?? 2}));`;
  return `import { definePlugin, z } from 'taskmaster/sdk';

const runs = ((globalThis as any).__tmRuns ??= new Map());
const hooks = ((globalThis as any).__tmHooks ??= []);

export default definePlugin({
  name: '${name}',
  version: '${version}',
  onInit: () => { hooks.push('init:${version}'); },
  onShutdown: () => { hooks.push('shutdown:${version}'); },
  ${options.extra ?? ''}
  jobs: {
    '${type}': {
      schema: z.object({ n: z.number() }),
      handler: async (payload, ctx) => {
        runs.set(ctx.jobId, (runs.get(ctx.jobId) ?? 0) + 1);
        ${wait}
        return { version: '${version}', n: payload.n };
      },
    },
  },
});
`;
}

/** Writes `source` as `<dir>/<folder>/index.ts`. */
export function writePlugin(dir: string, folder: string, source: string): void {
  mkdirSync(join(dir, folder), { recursive: true });
  writeFileSync(join(dir, folder, 'index.ts'), source);
}

export function removePlugin(dir: string, folder: string): void {
  rmSync(join(dir, folder), { recursive: true, force: true });
}
