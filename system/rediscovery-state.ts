/**
 * The accounting of USB-rediscovery exits, kept across process runs.
 *
 * Inside a container, USB discovery that finds nothing for a while ends the
 * process (exit 75) so that the restart can see a device plugged in since.
 * Each restart may disturb the host (a Docker daemon restarting a container
 * touches networking and storage other containers share), so exits must not
 * follow each other at a steady pace forever: after each rediscovery exit
 * the next run waits longer before exiting (the discovery window grows by
 * `factor`, up to `capMs`), and a successful connection starts over. The
 * times of recent exits live in `<stateDir>/rediscovery.json`, written
 * atomically just before exiting and read at start.
 *
 * Times here are wall-clock milliseconds since the epoch: a monotonic clock
 * does not survive a restart. Every function takes `now` as an argument.
 */
import { join } from 'node:path';
import type { Logger } from '../runtime/logger.js';
import { readJsonState, writeJsonState, type StateFileProblem } from './state-file.js';

export const REDISCOVERY_FILE = 'rediscovery.json';

export interface RediscoveryState {
  /** Wall-clock times (ms) of recent rediscovery exits, oldest first. */
  exits: number[];
}

export interface RediscoveryBackoffOptions {
  /** The window is multiplied by this after each recent exit. */
  factor: number;
  /** The window never grows past this (unless the base itself is longer). */
  capMs: number;
  /** An exit older than this no longer counts (so an old streak does not weigh on a fresh one). */
  forgetAfterMs: number;
  /** At most this many exit times are kept; more would not change a capped window. */
  maxExits: number;
}

export const REDISCOVERY_DEFAULTS: Readonly<RediscoveryBackoffOptions> = {
  factor: 2,
  capMs: 30 * 60_000,
  forgetAfterMs: 24 * 3_600_000,
  maxExits: 32,
};

export const EMPTY_REDISCOVERY_STATE: Readonly<RediscoveryState> = Object.freeze({ exits: [] });

// ------------------------------------------------------------- pure logic

/**
 * The exits that still count at `now`: within `forgetAfterMs` before it. An
 * exit dated in the future (the clock was set back, as on a board without a
 * real-time clock before NTP) counts, unless it is absurdly far ahead: when
 * unsure, keep backing off.
 */
export function recentExits(state: RediscoveryState, now: number, forgetAfterMs: number): number[] {
  return state.exits.filter((t) => t > now - forgetAfterMs && t < now + forgetAfterMs);
}

/**
 * How long USB discovery must find nothing before this run may exit for
 * rediscovery: `baseMs` (the configured give-up time) times `factor` per
 * recent exit, capped at `capMs` (never below `baseMs`).
 */
export function discoveryWindowMs(
  baseMs: number,
  state: RediscoveryState,
  now: number,
  options: Partial<RediscoveryBackoffOptions> = {},
): number {
  const { factor, capMs, forgetAfterMs } = { ...REDISCOVERY_DEFAULTS, ...options };
  const exits = recentExits(state, now, forgetAfterMs).length;
  const cap = Math.max(capMs, baseMs);
  return Math.min(cap, baseMs * Math.pow(factor, exits));
}

/** The state after one more exit at `now`: forgotten exits dropped, the newest `maxExits` kept. */
export function withExit(
  state: RediscoveryState,
  now: number,
  options: Partial<RediscoveryBackoffOptions> = {},
): RediscoveryState {
  const { forgetAfterMs, maxExits } = { ...REDISCOVERY_DEFAULTS, ...options };
  const exits = [...recentExits(state, now, forgetAfterMs), now].sort((a, b) => a - b);
  return { exits: exits.slice(-maxExits) };
}

/** Validates the file's JSON (`{ "version": 1, "exits": [ms, ...] }`); throws when it is not one. */
export function parseRediscoveryState(raw: unknown): RediscoveryState {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('expected an object');
  const { version, exits } = raw as { version?: unknown; exits?: unknown };
  if (version !== 1) throw new Error(`unknown version ${JSON.stringify(version)}`);
  if (!Array.isArray(exits)) throw new Error('exits: expected an array');
  for (const t of exits) {
    if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) throw new Error('exits: expected times in ms');
  }
  return { exits: [...(exits as number[])].sort((a, b) => a - b) };
}

function serialize(state: RediscoveryState): unknown {
  return { version: 1, exits: state.exits };
}

// -------------------------------------------------------------- the file

export interface LoadedRediscoveryState {
  state: RediscoveryState;
  /** Set when the file was unreadable or corrupt (then `state` is empty). */
  problem?: StateFileProblem;
}

export function rediscoveryFile(stateDir: string): string {
  return join(stateDir, REDISCOVERY_FILE);
}

/** Reads the state at start; never throws (a bad file is reported, set aside, and counts as no exits). */
export async function loadRediscoveryState(
  stateDir: string,
  options: { logger?: Logger; now?: () => number } = {},
): Promise<LoadedRediscoveryState> {
  const read = await readJsonState(rediscoveryFile(stateDir), {
    parse: parseRediscoveryState,
    fallback: { exits: [] },
    serialize,
    ...(options.logger && { logger: options.logger }),
    ...(options.now && { now: options.now }),
  });
  return read.problem ? { state: read.value, problem: read.problem } : { state: read.value };
}

/**
 * Adds an exit at `now` to the file, just before exiting with code 75.
 * Throws when the file cannot be written (the caller logs it and exits
 * anyway: the backoff is a courtesy to the host, not a reason to stay up).
 */
export async function recordRediscoveryExit(
  stateDir: string,
  now: number,
  options: Partial<RediscoveryBackoffOptions> & { logger?: Logger } = {},
): Promise<RediscoveryState> {
  const { state } = await loadRediscoveryState(stateDir, options.logger ? { logger: options.logger } : {});
  const next = withExit(state, now, options);
  await writeJsonState(rediscoveryFile(stateDir), serialize(next));
  return next;
}

/** Forgets every exit, after a successful connection. Throws when the file cannot be written. */
export async function resetRediscoveryState(stateDir: string): Promise<void> {
  await writeJsonState(rediscoveryFile(stateDir), serialize(EMPTY_REDISCOVERY_STATE));
}
