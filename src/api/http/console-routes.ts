import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyReply } from 'fastify';
import type { Router } from './router.js';

/**
 * The web console's files, by the name the browser asks for. A fixed list, not a folder served
 * as it stands: nothing else under the package can be read through /console/, whatever the
 * path says, and a name not on the list is a plain 404.
 *
 * The page is src/console (copied to dist/console by the build); the libraries it runs on,
 * Preact and htm, are this package's own dependencies, read from where Node resolves them. So
 * the console works offline and its library versions are the lock file's.
 */
const CONSOLE_FOLDER = new URL('../../console/', import.meta.url);

interface ConsoleFile {
  url: URL;
  type: string;
}

const JS = 'text/javascript; charset=UTF-8';

function consoleFiles(): Map<string, ConsoleFile> {
  const own = (name: string, type: string): [string, ConsoleFile] => [
    name,
    { url: new URL(name, CONSOLE_FOLDER), type },
  ];
  const vendor = (name: string, specifier: string): [string, ConsoleFile] => [
    `vendor/${name}`,
    { url: new URL(import.meta.resolve(specifier)), type: JS },
  ];
  return new Map([
    own('index.html', 'text/html; charset=UTF-8'),
    own('console.css', 'text/css; charset=UTF-8'),
    own('console.js', JS),
    own('api.js', JS),
    own('pages.js', JS),
    own('admin-pages.js', JS),
    vendor('preact.mjs', 'preact'),
    vendor('hooks.mjs', 'preact/hooks'),
    vendor('htm.mjs', 'htm'),
  ]);
}

/**
 * GET /console/ and its files. Outside the versioned API: no identity, no guard (added through
 * the Router with `identity: false`, as GET / is, so other methods answer 405). The page signs in
 * with the user's own credentials and calls the same /v2 routes any client does, so the console
 * can do nothing the user could not do with curl.
 */
export function registerConsoleRoutes(router: Router): void {
  const files = consoleFiles();
  // Read once, on first use: small files, and a server that never serves the console never reads them.
  const cache = new Map<string, Promise<Buffer>>();
  const send = async (reply: FastifyReply, name: string) => {
    const file = files.get(name);
    if (file === undefined) {
      return reply
        .code(404)
        .type('application/json; charset=UTF-8')
        .send(JSON.stringify({ title: 'Not found', description: `The console has no file ${name}.` }));
    }
    let body = cache.get(name);
    if (body === undefined) {
      body = readFile(fileURLToPath(file.url));
      cache.set(name, body);
      body.catch(() => cache.delete(name));
    }
    return reply
      .type(file.type)
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .send(await body);
  };
  // ignoreTrailingSlash makes /console and /console/ one route; the page's relative links need
  // the slash, so the bare path is sent to it.
  const page = { action: 'The console could not be served.', identity: false };
  router.add('GET', '/console', page, async (request, reply) =>
    request.url.split('?')[0]?.endsWith('/')
      ? send(reply, 'index.html')
      : reply.redirect(`/console/${request.url.slice('/console'.length)}`),
  );
  // Two levels, as the files are: parameters rather than a wildcard, so no path can climb out.
  router.add('GET', '/console/:file', page, async (request, reply) =>
    send(reply, (request.params as { file: string }).file),
  );
  router.add('GET', '/console/vendor/:file', page, async (request, reply) =>
    send(reply, `vendor/${(request.params as { file: string }).file}`),
  );
}
