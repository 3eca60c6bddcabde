import { isPlainObject, type QueueMetadata, ResourceConflictError } from '../core/index.js';
import { bodyError } from './errors.js';

/**
 * Queue metadata changes in the JSON-patch form Zaqar accepts (draft 10 of JSON Patch, through
 * the `application/openstack-messaging-v2.0-json-patch` media type): a list of
 * `{"op": "add" | "remove" | "replace", "path": "/metadata/<key>", "value": ...}`. Only one level
 * below `/metadata` can be changed.
 */

export type MetadataChange = { op: 'add' | 'replace'; key: string; value: unknown } | { op: 'remove'; key: string };

const OPS = new Set(['add', 'remove', 'replace']);

/** Splits a JSON pointer into its tokens, refusing the malformed ones Zaqar refuses. */
function pointerTokens(pointer: string): string[] {
  if (!pointer.startsWith('/')) throw bodyError('path', `Pointer ${pointer} does not start with "/".`);
  if (/\/\s*\//.test(pointer.slice(1)) || (pointer.length > 1 && pointer.endsWith('/'))) {
    throw bodyError('path', `Pointer ${pointer} has an empty token.`);
  }
  if (/~[^01]/.test(pointer) || pointer.endsWith('~')) {
    throw bodyError('path', `Pointer ${pointer} has a "~" that is not an escape ("~0" or "~1").`);
  }
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~').trim());
}

/** Checks a patch document and returns its changes. */
export function parseMetadataPatch(document: unknown): MetadataChange[] {
  if (!Array.isArray(document)) {
    throw bodyError('body', 'The request body must be a JSON array of operation objects.');
  }
  return document.map((raw, index): MetadataChange => {
    if (!isPlainObject(raw)) throw bodyError(`body[${index}]`, 'Operations must be JSON objects.');
    const op = raw.op;
    if (typeof op !== 'string' || !OPS.has(op)) {
      throw bodyError(`body[${index}].op`, `Operation ${index} needs an "op" of add, remove or replace.`);
    }
    if (typeof raw.path !== 'string') {
      throw bodyError(`body[${index}].path`, `Operation ${index} needs a "path" string such as /metadata/key.`);
    }
    const tokens = pointerTokens(raw.path);
    if (tokens.length !== 2 || tokens[0]?.toLowerCase() !== 'metadata' || tokens[1] === '') {
      throw bodyError(`body[${index}].path`, `Invalid path ${raw.path}: it must be /metadata/<key>.`);
    }
    const key = tokens[1] as string;
    if (op === 'remove') return { op, key };
    if (!('value' in raw)) throw bodyError(`body[${index}].value`, `Operation "${op}" needs a "value".`);
    return { op: op as 'add' | 'replace', key, value: raw.value };
  });
}

/**
 * Applies the changes to a copy of `metadata`. Replacing or removing a key that is not there is a
 * conflict, except for reserved keys, which always "exist" (they have defaults).
 */
export function applyMetadataPatch(
  metadata: QueueMetadata,
  changes: MetadataChange[],
  reserved: ReadonlySet<string>,
): QueueMetadata {
  const result: QueueMetadata = { ...metadata };
  for (const change of changes) {
    const present = Object.hasOwn(result, change.key);
    if (change.op === 'add') {
      setKey(result, change.key, change.value);
    } else if (change.op === 'replace') {
      if (!present && !reserved.has(change.key)) {
        throw new ResourceConflictError('metadata key', change.key, 'cannot replace a key that does not exist');
      }
      setKey(result, change.key, change.value);
    } else if (present) {
      delete result[change.key];
    } else if (!reserved.has(change.key)) {
      throw new ResourceConflictError('metadata key', change.key, 'cannot remove a key that does not exist');
    }
  }
  return result;
}

/** Sets an own property, even one named "__proto__" (an assignment would change the prototype). */
function setKey(target: QueueMetadata, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
