/**
 * systemd's watchdog, from the service's side: `WATCHDOG=1` at half of
 * `WATCHDOG_USEC` while the tree is healthy.
 *
 * The pings come from a timer on the main thread's event loop, on purpose:
 * if that loop is stuck (a blocking call, an endless loop in the kernel),
 * the timer cannot fire, the pings stop, and systemd kills and restarts the
 * service after `WatchdogSec`. Nothing here runs in a worker or a helper
 * process that could keep pinging for a dead loop.
 *
 * "Healthy" is the kernel's call; it should mean the supervision tree is
 * running (the root has not given up), not that a controller is connected:
 * a missing device is handled by reconnecting, or by the rediscovery exit,
 * and a restart by the watchdog would not find it any sooner.
 */

/** The ping interval systemd asks for, or undefined when the watchdog is off or meant for another process. */
export function watchdogIntervalMs(
  env: NodeJS.ProcessEnv = process.env,
  pid: number = process.pid,
): number | undefined {
  const usec = Number(env['WATCHDOG_USEC']);
  if (!Number.isSafeInteger(usec) || usec <= 0) return undefined;
  // sd_watchdog_enabled(3): WATCHDOG_PID, when set, names the process that must ping; a child that inherited the variables must not.
  const target = env['WATCHDOG_PID'];
  if (target !== undefined && target !== '' && Number(target) !== pid) return undefined;
  // Half the timeout, as systemd recommends; at least 1 ms so a tiny test value cannot spin.
  return Math.max(1, Math.floor(usec / 2 / 1000));
}

export interface WatchdogTimers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface WatchdogPingOptions {
  intervalMs: number;
  /** Checked before each ping: no ping while it returns false. */
  healthy: () => boolean;
  /** Sends one ping (`notifier.watchdog()`). */
  send: () => void;
  timers?: WatchdogTimers;
}

export interface WatchdogPings {
  stop(): void;
}

const REAL_TIMERS: WatchdogTimers = {
  setInterval: (fn, ms) => {
    const handle = setInterval(fn, ms);
    // The pings must never be what keeps the process alive.
    handle.unref();
    return handle;
  },
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

/** Pings now (when healthy) and then every `intervalMs`; `stop()` ends it (before `STOPPING=1`). */
export function startWatchdogPings(options: WatchdogPingOptions): WatchdogPings {
  const timers = options.timers ?? REAL_TIMERS;
  const tick = (): void => {
    let healthy = false;
    try {
      healthy = options.healthy();
    } catch {
      // A health check that throws is not a healthy tree.
    }
    if (healthy) options.send();
  };
  tick();
  let handle: unknown = timers.setInterval(tick, options.intervalMs);
  return {
    stop: () => {
      if (handle === undefined) return;
      timers.clearInterval(handle);
      handle = undefined;
    },
  };
}
