/**
 * Upload lanes, highest first. Minimal stand-in until the lanes branch lands (its version replaces this file):
 * only what the metered-link admission needs.
 */
export type Lane = 'incident' | 'high' | 'normal' | 'low';

/** Every lane, highest first. */
export const LANES: readonly Lane[] = ['incident', 'high', 'normal', 'low'];
