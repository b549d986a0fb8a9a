import { fileURLToPath } from 'node:url';
import { defineNitroConfig } from 'nitropack/config';

// Inline script is forbidden on the dashboard's pages: job data is shown as
// text, and even if markup slipped through it could not run.
const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const DASHBOARD_HEADERS = {
  'content-security-policy': DASHBOARD_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

// The HTTP layer. Routes live in src/api/routes (file-based), the runtime is
// booted by src/api/plugins/runtime.ts, and every error leaves through
// src/api/error-handler.ts in one shape.
export default defineNitroConfig({
  srcDir: 'src/api',
  preset: 'node-server',
  compatibilityDate: '2025-06-01',
  imports: false,
  errorHandler: '~/error-handler',
  typescript: { generateTsConfig: false },
  // Plugins load at run time through jiti, which loads its transpiler lazily:
  // the file tracer cannot see that file, so it is named here.
  externals: { traceInclude: ['node_modules/jiti/dist/babel.cjs'] },
  // The dashboard, built by `npm run build:dashboard` (Vite) into dist/dashboard.
  publicAssets: [
    { dir: fileURLToPath(new URL('./dist/dashboard', import.meta.url)), baseURL: '/dashboard', maxAge: 0 },
  ],
  routeRules: {
    '/dashboard': { headers: DASHBOARD_HEADERS },
    '/dashboard/**': { headers: DASHBOARD_HEADERS },
    '/api/**': { headers: { 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' } },
  },
});
