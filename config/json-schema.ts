/**
 * The JSON Schema editors use to complete and check a configuration file
 * (for example the YAML language server, via a `# yaml-language-server:
 * $schema=...` comment). It describes what a file may hold, so every field
 * is optional and carries its default; rules that span fields (a backoff's
 * maxMs at least its minMs) are checked by `tether config check` only.
 */
import { z } from 'zod';
import { ConfigSchema } from './schema.js';

export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ConfigSchema, { io: 'input', target: 'draft-2020-12' });
  return { ...schema, title: 'tether configuration' };
}
