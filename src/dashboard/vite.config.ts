import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The dashboard: Preact pages built into static files that the Nitro server
// serves at /dashboard (see nitro.config.ts). Nothing is inlined into the
// HTML, so the Content-Security-Policy can forbid inline script.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/dashboard/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: fileURLToPath(new URL('../../dist/dashboard', import.meta.url)),
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 300,
  },
});
