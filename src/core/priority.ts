/** The four priority classes, most urgent first. */
export const PRIORITIES = ['critical', 'high', 'normal', 'low'] as const;

export type Priority = (typeof PRIORITIES)[number];

export const DEFAULT_PRIORITY: Priority = 'normal';

/**
 * BullMQ's numeric priority for a class: lower runs first. Zero is avoided on
 * purpose: BullMQ serves un-prioritised jobs before every prioritised one.
 */
export function bullPriority(priority: Priority): number {
  return PRIORITIES.indexOf(priority) + 1;
}

export function isPriority(value: unknown): value is Priority {
  return typeof value === 'string' && (PRIORITIES as readonly string[]).includes(value);
}
