/**
 * Whether USB discovery that keeps finding nothing may end the process (exit
 * code 75) so that its supervisor starts it again. Only useful inside a
 * container: a USB device plugged in after the container started stays
 * invisible until the container restarts. On a plain host a restart sees
 * nothing new, so `auto` exits only inside a container.
 *
 * The kernel calls these (it owns process exit); connection only asks.
 */
import { existsSync, readFileSync } from 'node:fs';

export type RediscoveryPolicy = 'auto' | 'always' | 'never';

export function shouldExitForRediscovery(policy: RediscoveryPolicy, inContainer: boolean): boolean {
  switch (policy) {
    case 'always':
      return true;
    case 'never':
      return false;
    case 'auto':
      return inContainer;
  }
}

/** The file checks detectContainer makes; synchronous, because the kernel decides in one handler. */
export interface ContainerProbe {
  exists(path: string): boolean;
  /** The file's text, or undefined when it cannot be read. */
  readFile(path: string): string | undefined;
}

const MARKER_FILES = ['/.dockerenv', '/run/.containerenv'] as const;
const CGROUP_FILE = '/proc/1/cgroup';
/** Docker, containerd, Kubernetes, Podman (libpod) name themselves in PID 1's cgroup path (cgroup v1, and v2 without a namespace). */
const CGROUP_HINT = /docker|containerd|kubepods|libpod/;

const realProbe: ContainerProbe = {
  exists: (path) => existsSync(path),
  readFile: (path) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  },
};

/**
 * True inside Docker (`/.dockerenv`), Podman (`/run/.containerenv`), or when
 * PID 1's cgroup names a container runtime. Never throws: a file that cannot
 * be read counts as "no sign of a container".
 */
export function detectContainer(probe: ContainerProbe = realProbe): boolean {
  for (const path of MARKER_FILES) {
    try {
      if (probe.exists(path)) return true;
    } catch {
      // An unreadable marker is no marker.
    }
  }
  let cgroup: string | undefined;
  try {
    cgroup = probe.readFile(CGROUP_FILE);
  } catch {
    cgroup = undefined;
  }
  return cgroup !== undefined && CGROUP_HINT.test(cgroup);
}
