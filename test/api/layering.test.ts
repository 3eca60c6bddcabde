/**
 * The api's imports, checked rather than hoped for: the two transports never import each other
 * (what both need is in api/shared, which imports neither), and the api reaches storage and pools
 * only through the service.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';

const SRC = resolve(import.meta.dirname, '../../src');
const API = join(SRC, 'api');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Each relative import of a file, as the part of src/ it lands in (`api/http`, `service`...). */
function importedParts(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)].map((m) => m[1] as string);
  return specifiers.map((specifier) => {
    const [top, sub] = relative(SRC, resolve(dirname(file), specifier)).split('/');
    return top === 'api' ? `api/${sub}` : (top as string);
  });
}

function partOf(file: string): string {
  return `api/${relative(API, file).split('/')[0]}`;
}

/** Where each part of the api may import from, besides itself. */
const ALLOWED: Record<string, string[]> = {
  'api/http': ['api/shared', 'service', 'core'],
  'api/ws': ['api/shared', 'service', 'core'],
  'api/shared': ['service', 'core'],
};

describe('api: layering', () => {
  it('finds the imports it checks', () => {
    // A pattern that matched nothing would pass every rule below.
    const parts = importedParts(join(API, 'ws', 'ws-api.ts'));
    assert.ok(parts.includes('api/shared') && parts.includes('service') && parts.includes('core'), String(parts));
  });

  for (const file of sources(API)) {
    const part = partOf(file);
    it(`${relative(SRC, file)} imports only ${[part, ...(ALLOWED[part] ?? [])].join(', ')}`, () => {
      const allowed = ALLOWED[part];
      assert.ok(allowed, `${part} is a part of the api this test does not know`);
      const strays = importedParts(file).filter((imported) => imported !== part && !allowed.includes(imported));
      assert.deepEqual(strays, []);
    });
  }
});
