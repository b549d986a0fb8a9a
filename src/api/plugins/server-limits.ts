import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { defineNitroPlugin } from 'nitropack/runtime';
import { loadConfig } from '../../config/index.ts';

/**
 * Applies the configured time limits to the Node HTTP server Nitro made (it
 * offers no option for them): headers must arrive within
 * `api.headersTimeoutMs` and a whole request within that plus
 * `api.bodyTimeoutMs`, so a client sending a byte at a time holds only its
 * own connection, and not for long. The server is reached through the first
 * request's socket; Node checks these limits on its own timer.
 */
export default defineNitroPlugin((nitroApp) => {
  const { headersTimeoutMs, bodyTimeoutMs } = loadConfig().api;
  const tuned = new WeakSet<Server>();

  nitroApp.hooks.hook('request', (event) => {
    const server = (event.node.req.socket as Socket & { server?: Server }).server;
    if (!server || tuned.has(server)) return;

    server.headersTimeout = headersTimeoutMs;
    server.requestTimeout = headersTimeoutMs + bodyTimeoutMs;
    tuned.add(server);
  });
});
