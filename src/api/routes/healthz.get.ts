import { defineEventHandler } from 'h3';

/** Liveness: the process answers. */
export default defineEventHandler(() => ({ status: 'ok' }));
