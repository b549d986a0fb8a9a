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

/** Default share of starts per class when every class has work waiting. */
export const DEFAULT_WEIGHTS: Readonly<Record<Priority, number>> = { critical: 8, high: 4, normal: 2, low: 1 };
