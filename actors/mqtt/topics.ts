/**
 * Which topics a request may name as its response topic. A client chooses
 * it freely, so without a check it could make this service publish onto
 * another service's command topic, or over a retained state: answers go
 * only to topic names (no wildcards) outside the topics services of this
 * kind publish and subscribe.
 */
import { isTopicName } from '../../contracts/bus.js';

const OWN_LEAVES = new Set(['state', 'status', 'lifecycle']);
const OWN_BRANCHES = new Set(['cmd', 'events']);

export function isAllowedResponseTopic(prefix: string, topic: string): boolean {
  if (!isTopicName(topic)) return false;
  if (topic === 'brewcast' || topic.startsWith('brewcast/')) return false;
  if (!topic.startsWith(`${prefix}/`)) return true;
  const levels = topic.slice(prefix.length + 1).split('/');
  // <prefix>/<name>/state|status|lifecycle and <prefix>/<name>/cmd|events/...
  if (levels.length === 2 && OWN_LEAVES.has(levels[1]!)) return false;
  if (levels.length >= 2 && OWN_BRANCHES.has(levels[1]!)) return false;
  return true;
}
