import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { z } from 'zod';
import { configSchema, queueSchema, type Config, type ConfigInput } from './schema.ts';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Loads the configuration: the JSON file named by `TASKMASTER_CONFIG` (or
 * `./taskmaster.config.json` when present), then environment variables on
 * top, then `overrides`. Relative paths are resolved against the working
 * directory. Throws a `ConfigError` naming every invalid option.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: ConfigInput = {},
): Config {
  // 1. The file, when there is one.
  const file = env.TASKMASTER_CONFIG ?? (existsSync('taskmaster.config.json') ? 'taskmaster.config.json' : undefined);
  const fromFile = file ? readJson(file) : {};

  // 2. The environment wins over the file; explicit overrides win over both.
  const merged = deepMerge(deepMerge(fromFile, fromEnv(env)), overrides as Record<string, unknown>);

  // 3. Validate once, naming each bad option.
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.flatMap(describeIssue);
    throw new ConfigError(`invalid configuration${file ? ` in ${file}` : ''}:\n${lines.join('\n')}`);
  }

  const config = parsed.data;
  config.dataDir = resolve(config.dataDir);
  config.plugins.dirs = config.plugins.dirs.map((d) => resolve(d));
  config.reports.dir = resolve(config.reports.dir ?? join(config.dataDir, 'reports'));
  if (!config.queues.default) config.queues.default = queueSchema.parse({});

  return config;
}

/** One line per problem; an unknown key gets its own line with its full path. */
function describeIssue(issue: z.core.$ZodIssue): string[] {
  const at = (path: PropertyKey[]) => path.map(String).join('.') || '(root)';
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `  ${at([...issue.path, key])}: unknown option`);
  }
  return [`  ${at(issue.path)}: ${issue.message}`];
}

function fromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, any> = {};
  if (env.REDIS_URL) out.redis = { url: env.REDIS_URL };
  if (env.TASKMASTER_DATA_DIR) out.dataDir = env.TASKMASTER_DATA_DIR;
  if (env.LOG_LEVEL) out.log = { level: env.LOG_LEVEL };

  const api: Record<string, unknown> = {};
  if (env.PORT) api.port = Number(env.PORT);
  if (env.HOST) api.host = env.HOST;
  if (Object.keys(api).length) out.api = api;

  if (env.TASKMASTER_SECRET_KEY) out.secrets = { key: env.TASKMASTER_SECRET_KEY };
  if (env.TASKMASTER_OUTBOUND_ALLOW) out.outbound = { allow: env.TASKMASTER_OUTBOUND_ALLOW.split(',').map((s) => s.trim()).filter(Boolean) };
  if (env.TASKMASTER_PLUGIN_DIRS) out.plugins = { dirs: env.TASKMASTER_PLUGIN_DIRS.split(',').filter(Boolean) };
  return out;
}

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read configuration file ${file}: ${(err as Error).message}`);
  }
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [key, value] of Object.entries(b)) {
    const prev = out[key];
    out[key] = isPlainObject(prev) && isPlainObject(value) ? deepMerge(prev, value) : value;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
