import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configJsonSchema } from '../../config/index.js';

interface JsonSchemaNode {
  type?: string;
  description?: string;
  default?: unknown;
  additionalProperties?: boolean;
  required?: string[];
  properties?: Record<string, JsonSchemaNode>;
}

describe('JSON Schema for editors', () => {
  const schema = JSON.parse(JSON.stringify(configJsonSchema())) as JsonSchemaNode & { $schema?: string };
  const discovery = schema.properties?.discovery;

  it('is valid JSON with properties.discovery', () => {
    assert.equal(schema.type, 'object');
    assert.ok(discovery !== undefined);
    assert.match(String(schema.$schema), /json-schema\.org/);
  });

  it('refuses unknown keys at every level, as the loader does', () => {
    assert.equal(schema.additionalProperties, false);
    assert.equal(discovery?.additionalProperties, false);
    assert.equal(discovery?.properties?.usb?.additionalProperties, false);
  });

  it('makes no key required, and carries defaults and descriptions for editors', () => {
    assert.equal(schema.required, undefined);
    assert.equal(discovery?.required, undefined);
    const intervalMs = discovery?.properties?.intervalMs;
    assert.equal(intervalMs?.default, 5000);
    assert.match(String(intervalMs?.description), /discovery/i);
    assert.ok(discovery?.description);
  });
});
