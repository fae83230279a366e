/**
 * work-queue-settings: a work queue's persisted settings, their defaults and the checks of the
 * options that set them, shared by both backends. It loads no database (no better-sqlite3, no
 * Disk): a runner's worker on a Redis queue imports it without the SQLite engine, so that it
 * starts sooner. The SQLite-only option (`disk`) is checked in work-queue-schema.ts.
 */
import { checkInteger, checkOptions, checkSeconds } from '../cache/checks.js';
import type { WorkQueueOptions } from './work-queue-schema.js';

/** How a queue's results are encoded: `Disk`'s default, or pickle (`PickleDisk`). */
export type ResultsFormat = 'default' | 'pickle';

/** The persisted options, as this opener uses them. */
export interface QueueSettings {
  leaseSeconds: number;
  maxAttempts: number;
  backoffSeconds: number;
  resultsFormat: ResultsFormat;
}

export const DEFAULT_QUEUE_SETTINGS: Readonly<QueueSettings> = Object.freeze({
  leaseSeconds: 30,
  maxAttempts: 3,
  backoffSeconds: 1,
  resultsFormat: 'default',
});

/** The name each setting is stored under (a SQLite row, a Redis hash field). */
export const SETTING_NAMES: Readonly<Record<keyof QueueSettings, string>> = {
  leaseSeconds: 'lease_seconds',
  maxAttempts: 'max_attempts',
  backoffSeconds: 'backoff_seconds',
  resultsFormat: 'results_format',
};

export const NUMERIC_SETTINGS = ['leaseSeconds', 'maxAttempts', 'backoffSeconds'] as const;

/** The settings stored as numbers. */
export type NumericQueueSetting = (typeof NUMERIC_SETTINGS)[number];

const OPTION_NAMES = new Set([
  'leaseSeconds',
  'maxAttempts',
  'backoffSeconds',
  'timeout',
  'leaseSupervisor',
  'disk',
]);

/**
 * Validates the options' names and every option but `disk` (work-queue-schema.ts checks that
 * one); returns the numeric settings given (only those).
 */
export function checkQueueSettings(options: WorkQueueOptions): Partial<QueueSettings> {
  checkOptions(options, OPTION_NAMES);
  const given: Partial<QueueSettings> = {};
  if (options.leaseSeconds !== undefined)
    given.leaseSeconds = checkSeconds('leaseSeconds', options.leaseSeconds);
  if (options.maxAttempts !== undefined)
    given.maxAttempts = checkInteger('maxAttempts', options.maxAttempts, { min: 1 });
  if (options.backoffSeconds !== undefined) {
    given.backoffSeconds = checkSeconds('backoffSeconds', options.backoffSeconds, {
      allowZero: true,
    });
  }
  if (options.timeout !== undefined) checkSeconds('timeout', options.timeout, { allowZero: true });
  if (options.leaseSupervisor !== undefined)
    checkInteger('leaseSupervisor', options.leaseSupervisor, { min: 1 });
  return given;
}
