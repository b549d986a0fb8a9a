import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * Runs a plugin's own tests, wherever the plugin folder is (`taskmaster
 * new-plugin` prints the command): `npx vitest run --config
 * vitest.plugins.config.ts --dir my-plugins/greeter`. No Redis, no build:
 * `taskmaster/sdk` resolves to this copy's SDK, as it does for the loader.
 */
export default defineConfig({
  resolve: { alias: { 'taskmaster/sdk': fileURLToPath(new URL('./src/sdk/index.ts', import.meta.url)) } },
  test: { include: ['**/*.test.ts'], exclude: ['**/node_modules/**'] },
});
