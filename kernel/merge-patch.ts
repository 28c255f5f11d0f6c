/**
 * JSON Merge Patch (RFC 7386), for the blocks API's patch: objects merge
 * key by key, recursively; `null` removes a key; anything else (arrays
 * included) replaces what was there.
 */
import type { JsonObject, JsonValue } from '../protocol/index.js';
import { isJsonObject } from '../protocol/index.js';

export function mergePatch(target: JsonObject, patch: JsonObject): JsonObject {
  const out: JsonObject = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete out[key];
    } else if (isJsonObject(value)) {
      const current: JsonValue | undefined = Object.hasOwn(out, key) ? out[key] : undefined;
      set(out, key, mergePatch(isJsonObject(current) ? current : {}, value));
    } else {
      set(out, key, value);
    }
  }
  return out;
}

/** An own property even for `__proto__` (a key JSON.parse gives as data): never the object's prototype. */
function set(object: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}
