#!/usr/bin/env node
// Builds the dashboard and the HTTP server (npm run build) unless .output is newer than every
// source it bundles, so `npm start` stays quick after the first build.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const output = join(root, '.output', 'server', 'index.mjs');

function newest(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

const inputs = ['src', 'nitro.config.ts', 'package-lock.json'].map((p) => join(root, p)).filter(existsSync);
const stale = !existsSync(output) || Math.max(...inputs.map(newest)) > statSync(output).mtimeMs;
if (stale) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
