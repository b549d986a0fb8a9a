#!/usr/bin/env node
// The `taskmaster` command. TypeScript sources run as they are, through tsx.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
