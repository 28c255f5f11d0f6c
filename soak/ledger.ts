/**
 * What the soak counted and what it found broken, and the summary printed
 * at the end: faults by kind, requests and answers by code, recovery
 * times, memory, and every broken invariant with when it happened.
 */

export interface Violation {
  /** Seconds since the soak started. */
  atS: number;
  why: string;
}

export interface Recovery {
  faults: string[];
  ms: number;
  /** Supervisor backoff the service announced meanwhile (planned waiting, added to the bound). */
  backoffMs: number;
}

export class Ledger {
  readonly startedAt = performance.now();
  readonly violations: Violation[] = [];
  readonly faults = new Map<string, number>();
  /** Faults left out because this build's simulator does not have them. */
  readonly unavailable: string[] = [];
  /** `METHOD route -> status code` counts. */
  readonly answers = new Map<string, number>();
  readonly failures = new Map<string, number>();
  readonly recoveries: Recovery[] = [];
  requests = 0;
  maxLatencyMs = 0;
  episodes = 0;

  violation(why: string): void {
    const atS = Math.round((performance.now() - this.startedAt) / 100) / 10;
    // The same broken invariant over and over is one finding; keep the first hundred.
    if (this.violations.length < 100) this.violations.push({ atS, why });
    process.stderr.write(`soak: INVARIANT BROKEN at ${atS} s: ${why}\n`);
  }

  fault(kind: string): void {
    this.faults.set(kind, (this.faults.get(kind) ?? 0) + 1);
  }

  answer(route: string, status: number, code: string, ms: number): void {
    this.requests += 1;
    this.maxLatencyMs = Math.max(this.maxLatencyMs, ms);
    const key = `${route} -> ${status} ${code}`;
    this.answers.set(key, (this.answers.get(key) ?? 0) + 1);
  }

  failure(route: string, kind: string): void {
    this.requests += 1;
    const key = `${route} -> ${kind}`;
    this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
  }

  /** Error answers by code, across routes. */
  errorsByCode(): Map<string, number> {
    const byCode = new Map<string, number>();
    for (const [key, count] of this.answers) {
      const code = key.split(' ').at(-1) ?? '';
      if (code === 'OK') continue;
      byCode.set(code, (byCode.get(code) ?? 0) + count);
    }
    return byCode;
  }
}

export interface SummaryFacts {
  seed: number;
  minutes: number;
  node: string;
  load: { start: number[]; end: number[] };
  rss: { startBytes: number; endBytes: number; peakBytes: number };
  workers: { start: number; end: number; peak: number };
  handles: { start: Record<string, number>; end: Record<string, number> };
  log: { lines: number; byLevel: Record<string, number>; peakPerSecond: number };
  transitions: number;
  generation: number;
  shutdown: { code: number | null; ms: number } | undefined;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function sorted(map: Map<string, number>): Array<[string, number]> {
  return [...map].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

export function summaryText(ledger: Ledger, facts: SummaryFacts): string {
  const lines: string[] = [];
  const elapsedS = (performance.now() - ledger.startedAt) / 1000;
  const recoveryMs = ledger.recoveries.map((r) => r.ms);
  const worst = ledger.recoveries.reduce<Recovery | undefined>(
    (w, r) => (w === undefined || r.ms > w.ms ? r : w),
    undefined,
  );
  const totalFaults = [...ledger.faults.values()].reduce((a, b) => a + b, 0);
  lines.push(
    `soak summary: ${facts.minutes} min asked, ${elapsedS.toFixed(0)} s run, seed ${facts.seed}, Node ${facts.node}`,
    `machine load (1/5/15 min): start ${facts.load.start.map((l) => l.toFixed(2)).join(' ')}, end ${facts.load.end.map((l) => l.toFixed(2)).join(' ')}`,
    `episodes ${ledger.episodes}, faults injected ${totalFaults}:`,
  );
  for (const [kind, count] of sorted(ledger.faults)) lines.push(`  ${String(count).padStart(5)}  ${kind}`);
  if (ledger.unavailable.length > 0) {
    lines.push(`  (not in this build's simulator: ${ledger.unavailable.join(', ')})`);
  }
  const failed = [...ledger.failures.values()].reduce((a, b) => a + b, 0);
  lines.push(
    `requests ${ledger.requests} (unanswered ${failed}), slowest answer ${Math.round(ledger.maxLatencyMs)} ms; error answers by code:`,
  );
  for (const [code, count] of sorted(ledger.errorsByCode()))
    lines.push(`  ${String(count).padStart(5)}  ${code}`);
  for (const [key, count] of sorted(ledger.failures)) lines.push(`  ${String(count).padStart(5)}  ${key}`);
  const beyond = ledger.recoveries.map((r) => Math.max(0, r.ms - r.backoffMs));
  lines.push(
    `recovery (fault over -> Synchronized, every child running): max ${Math.round(worst?.ms ?? 0)} ms` +
      (worst === undefined ? '' : ` (${worst.faults.join(' + ')})`) +
      `, p50 ${Math.round(percentile(recoveryMs, 50))} ms, p90 ${Math.round(percentile(recoveryMs, 90))} ms; ` +
      `beyond announced supervisor backoff: max ${Math.round(Math.max(0, ...beyond))} ms`,
  );
  const slowest = [...ledger.recoveries]
    .sort((a, b) => b.ms - b.backoffMs - (a.ms - a.backoffMs))
    .slice(0, 5);
  for (const r of slowest) {
    lines.push(
      `  ${String(Math.round(r.ms)).padStart(6)} ms` +
        (r.backoffMs > 0 ? ` (backoff ${r.backoffMs} ms)` : '') +
        `  ${r.faults.join(' + ')}`,
    );
  }
  lines.push(
    `phase transitions ${facts.transitions}, last generation ${facts.generation}`,
    `RSS start ${mib(facts.rss.startBytes)}, end ${mib(facts.rss.endBytes)}, peak ${mib(facts.rss.peakBytes)}`,
    `workers start ${facts.workers.start}, end ${facts.workers.end}, peak ${facts.workers.peak}; main-thread handles start ${handleText(facts.handles.start)}, end ${handleText(facts.handles.end)}`,
    `service log: ${facts.log.lines} lines (${Object.entries(facts.log.byLevel)
      .map(([level, n]) => `${level} ${n}`)
      .join(', ')}), at most ${facts.log.peakPerSecond} in one second`,
    facts.shutdown === undefined
      ? 'SIGTERM: no exit'
      : `SIGTERM: exit ${facts.shutdown.code} after ${Math.round(facts.shutdown.ms)} ms`,
  );
  if (ledger.violations.length === 0) lines.push('invariants: all held');
  else {
    lines.push(`invariants BROKEN (${ledger.violations.length}):`);
    for (const v of ledger.violations) lines.push(`  at ${v.atS} s: ${v.why}`);
  }
  return lines.join('\n');
}

function handleText(handles: Record<string, number>): string {
  const entries = Object.entries(handles).sort((a, b) => a[0].localeCompare(b[0]));
  return entries.length === 0 ? '(none)' : entries.map(([type, n]) => `${type} ${n}`).join(', ');
}
