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

  // 3. Validate once, naming each bad option and where it came from.
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.flatMap((issue) => describeIssue(issue, env, overrides));
    const fromEnvOnly = parsed.error.issues.every((i) => envVariableFor(i.path, env, overrides));
    const where = fromEnvOnly ? ' from the environment' : file ? ` in ${file}` : '';
    throw new ConfigError(`invalid configuration${where}:\n${lines.join('\n')}`);
  }

  const config = parsed.data;
  config.dataDir = resolve(config.dataDir);
  config.plugins.dirs = config.plugins.dirs.map((d) => resolve(d));
  config.reports.dir = resolve(config.reports.dir ?? join(config.dataDir, 'reports'));
  if (!config.queues.default) config.queues.default = queueSchema.parse({});

  return config;
}

/**
 * One line per problem; an unknown key gets its own line with its full path,
 * and an option an environment variable set names that variable.
 */
function describeIssue(issue: z.core.$ZodIssue, env: NodeJS.ProcessEnv, overrides: ConfigInput): string[] {
  const at = (path: PropertyKey[]) => path.map(String).join('.') || '(root)';
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `  ${at([...issue.path, key])}: unknown option`);
  }

  const variable = envVariableFor(issue.path, env, overrides);
  if (!variable) return [`  ${at(issue.path)}: ${issue.message}`];
  // A URL can carry a password and the secret key is one: name those without their value.
  const shown = SECRET_VARIABLES.has(variable) ? variable : `${variable}=${env[variable]}`;
  return [`  ${at(issue.path)} (environment variable ${shown}): ${issue.message}`];
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

/** Which environment variable sets each option `fromEnv` reads. */
const ENV_OPTIONS: Record<string, string> = {
  'redis.url': 'REDIS_URL',
  dataDir: 'TASKMASTER_DATA_DIR',
  'log.level': 'LOG_LEVEL',
  'api.port': 'PORT',
  'api.host': 'HOST',
  'secrets.key': 'TASKMASTER_SECRET_KEY',
  'outbound.allow': 'TASKMASTER_OUTBOUND_ALLOW',
  'plugins.dirs': 'TASKMASTER_PLUGIN_DIRS',
};

const SECRET_VARIABLES = new Set(['REDIS_URL', 'TASKMASTER_SECRET_KEY']);

/** The variable an invalid option came from, unless unset or an explicit override replaced it. */
function envVariableFor(path: PropertyKey[], env: NodeJS.ProcessEnv, overrides: ConfigInput): string | undefined {
  for (const [option, variable] of Object.entries(ENV_OPTIONS)) {
    const parts = option.split('.');
    if (!env[variable] || parts.some((part, n) => path[n] !== part)) continue;
    let override: unknown = overrides;
    for (const part of parts) override = isPlainObject(override) ? override[part] : undefined;
    return override === undefined ? variable : undefined;
  }
  return undefined;
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
