import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  detectContainer,
  shouldExitForRediscovery,
  type ContainerProbe,
  type RediscoveryPolicy,
} from '../../../../actors/connection/discovery/rediscovery.js';

test('the rediscovery policy exits by its table', () => {
  const table: [RediscoveryPolicy, boolean, boolean][] = [
    ['auto', true, true],
    ['auto', false, false],
    ['always', true, true],
    ['always', false, true],
    ['never', true, false],
    ['never', false, false],
  ];
  for (const [policy, inContainer, exits] of table) {
    assert.equal(
      shouldExitForRediscovery(policy, inContainer),
      exits,
      `${policy}, inContainer ${inContainer}`,
    );
  }
});

function probe(files: Record<string, string>): ContainerProbe {
  return {
    exists: (path) => path in files,
    readFile: (path) => files[path],
  };
}

test('a container is recognised by /.dockerenv, /run/.containerenv or PID 1 cgroup', () => {
  const table: [string, Record<string, string>, boolean][] = [
    ['docker marker', { '/.dockerenv': '' }, true],
    ['podman marker', { '/run/.containerenv': '' }, true],
    ['docker cgroup v1', { '/proc/1/cgroup': '12:pids:/docker/0123abcd\n' }, true],
    ['kubernetes', { '/proc/1/cgroup': '0::/kubepods/besteffort/pod1/abc\n' }, true],
    ['containerd', { '/proc/1/cgroup': '0::/system.slice/containerd.service\n' }, true],
    ['podman cgroup', { '/proc/1/cgroup': '0::/machine.slice/libpod-abc.scope\n' }, true],
    ['plain host, cgroup v2', { '/proc/1/cgroup': '0::/init.scope\n' }, false],
    ['nothing readable', {}, false],
  ];
  for (const [name, files, expected] of table) {
    assert.equal(detectContainer(probe(files)), expected, name);
  }
});

test('container detection never throws, whatever the file checks do', () => {
  const failing: ContainerProbe = {
    exists: () => {
      throw new Error('EACCES');
    },
    readFile: () => {
      throw new Error('EACCES');
    },
  };
  assert.equal(detectContainer(failing), false);
});

test('container detection runs on this machine without an argument', () => {
  assert.equal(typeof detectContainer(), 'boolean');
});
