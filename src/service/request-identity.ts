import type { Limits } from '../core/index.js';
import { RequestRefusedError, TITLES } from './errors.js';

/**
 * Who is asking: every request names a project (the tenant) and a client (so a client does not
 * hear its own messages unless it asks to). Zaqar takes both from headers; the WebSocket API
 * takes them from the request's `headers` object. The checks live here so both agree.
 */

/** How Client-IDs are checked (Zaqar's `[transport] client_id_uuid_safe`). */
export interface ClientIdPolicy {
  /** 'strict': a UUID (normalized, so dashed and undashed forms are one client); 'off': free text. */
  mode: 'strict' | 'off';
  /** Bounds of a free-text id, in characters (Zaqar: 10 and 36). */
  minLength: number;
  maxLength: number;
}

export const DEFAULT_CLIENT_ID_POLICY: Readonly<ClientIdPolicy> = Object.freeze({
  mode: 'strict',
  minLength: 10,
  maxLength: 36,
});

const HEX32 = /^[0-9a-fA-F]{32}$/;

/**
 * Reads a UUID the way Python's uuid.UUID() does (Zaqar parses Client-IDs with it): an optional
 * `urn:`/`uuid:` prefix, optional braces, dashes anywhere, then exactly 32 hex digits. Returns the
 * canonical lowercase dashed form, or null.
 */
export function parseUuid(text: string): string | null {
  let hex = text;
  if (hex.includes('urn:')) hex = hex.replaceAll('urn:', '');
  if (hex.includes('uuid:')) hex = hex.replaceAll('uuid:', '');
  let start = 0;
  let end = hex.length;
  while (start < end && (hex[start] === '{' || hex[start] === '}')) start++;
  while (end > start && (hex[end - 1] === '{' || hex[end - 1] === '}')) end--;
  if (start !== 0 || end !== hex.length) hex = hex.slice(start, end);
  if (hex.includes('-')) hex = hex.replaceAll('-', '');
  if (!HEX32.test(hex)) return null;
  hex = hex.toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Checks a Client-ID and returns the form messages are stamped with. */
export function checkClientId(value: string | undefined, policy: ClientIdPolicy): string {
  if (value === undefined) {
    throw new RequestRefusedError('Client-ID', 'The Client-ID header is required.', TITLES.missingHeader);
  }
  if (policy.mode === 'strict') {
    // Canonical lowercase dashed UUIDs are what python-zaqarclient and most clients send: skip the
    // general parser for them, it is on every request's path.
    if (value.length === 36 && CANONICAL_UUID.test(value)) return value;
    const uuid = parseUuid(value);
    if (uuid === null) {
      throw new RequestRefusedError('Client-ID', 'The Client-ID must be a UUID (32 hex digits).', TITLES.wrongUuid);
    }
    return uuid;
  }
  if (value.length < policy.minLength || value.length > policy.maxLength) {
    throw new RequestRefusedError(
      'Client-ID',
      `The Client-ID must be at least ${policy.minLength} and at most ${policy.maxLength} characters long.`,
      TITLES.api,
    );
  }
  return value;
}

const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// Characters no HTTP header can carry; refusing them here too keeps the store namespaces that
// the service builds from them (see namespaces.ts) out of any client's reach.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Checks the X-Project-ID: present, not empty, at most `maxProjectIdLength` characters. */
export function checkProjectId(value: string | undefined, limits: Limits): string {
  if (value === undefined) {
    throw new RequestRefusedError('X-Project-ID', 'The X-Project-ID header is required.', TITLES.projectMissing);
  }
  if (value === '') {
    throw new RequestRefusedError(
      'X-Project-ID',
      'The X-Project-ID header must not be empty; give the project id and retry.',
      TITLES.emptyProject,
    );
  }
  if (value.length > limits.maxProjectIdLength) {
    throw new RequestRefusedError(
      'X-Project-ID',
      `Project ids may be at most ${limits.maxProjectIdLength} characters long.`,
      TITLES.queueIdentification,
    );
  }
  if (CONTROL.test(value)) {
    throw new RequestRefusedError(
      'X-Project-ID',
      'Project ids may not contain control characters.',
      TITLES.queueIdentification,
    );
  }
  return value;
}
