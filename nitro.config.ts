import { defineNitroConfig } from 'nitropack/config';

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
});
