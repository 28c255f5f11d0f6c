/**
 * "Did you mean": the closest known name to a misspelt one, when it is close
 * enough to be a typo rather than a different word.
 */

/** Edit distance (insert, delete, substitute, swap two neighbours), case-insensitive. */
function distance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  // rows[i][j]: distance between the first i characters of s and the first j of t.
  const rows: number[][] = [Array.from({ length: t.length + 1 }, (_, j) => j)];
  for (let i = 1; i <= s.length; i++) {
    const row = [i];
    for (let j = 1; j <= t.length; j++) {
      const at = (r: number, c: number): number => (r === i ? row[c] : rows[r]?.[c]) ?? Infinity;
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      // "prot" for "port" is one slip of the fingers, not two.
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1])
        best = Math.min(best, at(i - 2, j - 2) + 1);
      row[j] = best;
    }
    rows.push(row);
  }
  return rows[s.length]?.[t.length] ?? Infinity;
}

/** Longer than any key or variable name we have by far: such a name is not a typo of one of them. */
const MAX_NAME_CHARS = 100;

export function closest(name: string, candidates: Iterable<string>): string | undefined {
  // The distance costs the product of both lengths: a megabyte-long key must not buy that.
  if (name.length > MAX_NAME_CHARS) return undefined;
  // A third of the name's length: "intervalMS" finds "intervalMs", "port" does not find "host".
  const limit = Math.max(1, Math.floor(name.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    // The distance is at least the difference in length.
    if (Math.abs(candidate.length - name.length) > limit) continue;
    const d = distance(name, candidate);
    if (d <= limit && d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}
