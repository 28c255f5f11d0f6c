/** Small waiting helpers: every wait has a deadline, none sleeps and hopes. */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`deadline of ${ms} ms passed waiting for ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Collects chunks until `predicate` holds for their concatenation. */
export function collectUntil(
  subscribe: (listener: (chunk: Buffer) => void) => () => void,
  predicate: (all: Buffer) => boolean,
  ms = 3000,
): Promise<Buffer> {
  let unsubscribe = (): void => {};
  const found = new Promise<Buffer>((resolve) => {
    let all = Buffer.alloc(0);
    unsubscribe = subscribe((chunk) => {
      all = Buffer.concat([all, chunk]);
      if (predicate(all)) resolve(all);
    });
  });
  return withDeadline(found, ms, 'data').finally(() => unsubscribe());
}
