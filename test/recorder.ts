/**
 * What a test saw, in order, and waiting for something to be seen with a
 * deadline: the one mechanism behind the tests' event logs, phase watches,
 * event streams and process output. Never a bare sleep.
 */
export class Recorder<T> {
  readonly items: T[] = [];
  readonly #waiters = new Set<() => void>();

  push(...items: T[]): void {
    this.items.push(...items);
    for (const wake of [...this.#waiters]) wake();
  }

  /**
   * Resolves with the `count`-th item from index `from` on (already seen or
   * to come) that matches; rejects at the deadline with `what` and a
   * summary of what was seen.
   */
  waitFor(
    match: (item: T) => boolean,
    options: { timeoutMs: number; what: string; summary: () => string; from?: number; count?: number },
  ): Promise<T> {
    const { timeoutMs, what, summary, from = 0, count = 1 } = options;
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.items.slice(from).filter(match);
        if (found.length < count) return false;
        this.#waiters.delete(wake);
        clearTimeout(timer);
        resolve(found[count - 1]!);
        return true;
      };
      const wake = (): void => void check();
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        reject(new Error(`${what}: nothing within ${timeoutMs} ms; saw: ${summary()}`));
      }, timeoutMs);
      if (!check()) this.#waiters.add(wake);
    });
  }
}
