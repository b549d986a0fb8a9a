import type { Runtime } from '../engine/index.ts';
import type { KeyStore } from './auth/key-store.ts';
import type { SessionStore } from './auth/sessions.ts';

export interface ApiContext {
  runtime: Runtime;
  keys: KeyStore;
  /** Dashboard logins. */
  sessions: SessionStore;
}

let context: Promise<ApiContext> | undefined;

/** Set once by the runtime plugin while the server boots. */
export function provideContext(value: Promise<ApiContext>): void {
  context = value;
}

/** The booted runtime; requests that arrive during boot wait for it. */
export function useContext(): Promise<ApiContext> {
  if (!context) throw new Error('TaskMaster runtime not started');
  return context;
}
