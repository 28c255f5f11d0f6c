/**
 * Rules over the whole configuration as the service would run with it,
 * checked after the layers are merged (never on the file alone: a file that
 * listens on 0.0.0.0 with the token in TETHER_HTTP__TOKEN is a sound setup).
 * `tether run`, `tether config check` and `tether config print` all apply
 * them through `resolveConfig`, so none accepts what another refuses, and
 * each problem is traced to the layer that set the value it names.
 */
import { isLoopback } from './address.js';
import type { PathProblem } from './issues.js';
import type { TetherConfig } from './schema.js';

/** A token that cannot be presented (empty, or blank) protects nothing. */
export function hasToken(token: string): boolean {
  return token.trim() !== '';
}

export function deploymentProblems(config: TetherConfig): PathProblem[] {
  const problems: PathProblem[] = [];
  if (!isLoopback(config.http.host) && !hasToken(config.http.token)) {
    problems.push({
      path: ['http', 'host'],
      message: `${config.http.host} is not loopback and http.token is empty: set http.token (TETHER_HTTP__TOKEN) or listen on 127.0.0.1`,
    });
  }
  return problems;
}
