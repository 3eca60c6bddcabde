/**
 * The full state a refused request must leave unchanged, read through the API itself (so a ghost
 * that only a listing shows is seen) plus the catalog's routes: for each project, the queue and
 * topic listings with and without `detailed` (all pages), each listed or known name's metadata,
 * stats, messages (echo, claimed and delayed included, all pages), subscriptions and the claims
 * that hold its messages; with pooling, the pools and flavors (detailed, all pages) and the route
 * of every name the fuzzer uses.
 *
 * Nothing is ignored: the clock is a FakeClock that only the fuzzer's explicit `tick` steps move,
 * and a snapshot is taken with no tick between it and the request it brackets, so ages, expiry
 * and stats are exactly comparable.
 */
import type { FastifyInstance } from 'fastify';
import type { KnownIds } from './known-ids.js';
import { ADMIN_TOKEN, CLIENT, type FuzzTarget, PROJECTS, QUEUE_NAMES } from './targets.js';

type Read = { status: number; body: unknown };

async function read(app: FastifyInstance, url: string, project: string | null): Promise<Read> {
  const headers: Record<string, string> = { 'client-id': CLIENT, 'x-admin-token': ADMIN_TOKEN };
  if (project !== null) headers['x-project-id'] = project;
  const r = await app.inject({ method: 'GET', url, headers });
  let body: unknown = r.body;
  try {
    body = r.body === '' ? null : JSON.parse(r.body);
  } catch {
    // kept as text: a reader that answers something else than JSON is part of the state
  }
  return { status: r.statusCode, body };
}

/** Every page of a listing, following `next` links until an empty page (a bound stops a loop). */
async function pages(app: FastifyInstance, first: string, key: string, project: string | null): Promise<unknown[]> {
  const out: unknown[] = [];
  let url: string | null = first;
  for (let i = 0; url !== null && i < 200; i++) {
    const page = await read(app, url, project);
    if (page.status !== 200) {
      out.push(page);
      break;
    }
    const body = page.body as Record<string, unknown>;
    const items = (body[key] as unknown[] | undefined) ?? [];
    if (items.length === 0) break;
    out.push(...items);
    const links = (body.links as { rel: string; href: string }[] | undefined) ?? [];
    url = links.find((l) => l.rel === 'next')?.href ?? null;
  }
  return out;
}

function namesOf(items: unknown[]): string[] {
  return items.flatMap((item) =>
    typeof item === 'object' && item !== null && typeof (item as { name?: unknown }).name === 'string'
      ? [(item as { name: string }).name]
      : [],
  );
}

export async function snapshot(target: FuzzTarget, known: KnownIds): Promise<unknown> {
  const { app } = target;
  // The reads are independent: run them together (injected requests spend most of their time
  // waiting on the event loop, not computing).
  const collections = PROJECTS.flatMap((project) =>
    ['/v2/queues', '/v2/topics'].map(async (collection) => {
      const key = collection.slice(4);
      const [plain, detailed] = await Promise.all([
        pages(app, `${collection}?limit=20`, key, project),
        pages(app, `${collection}?limit=20&detailed=true`, key, project),
      ]);
      const names = [...new Set([...QUEUE_NAMES, ...namesOf(plain), ...namesOf(detailed)])].sort();
      const each = await Promise.all(
        names.map(async (name) => {
          const base = `${collection}/${encodeURIComponent(name)}`;
          const [metadata, stats, messages, subscriptions] = await Promise.all([
            read(app, base, project),
            read(app, `${base}/stats`, project),
            pages(
              app,
              `${base}/messages?limit=20&echo=true&include_claimed=true&include_delayed=true`,
              'messages',
              project,
            ),
            pages(app, `${base}/subscriptions?limit=20`, 'subscriptions', project),
          ]);
          return [name, { metadata, stats, messages, subscriptions }] as const;
        }),
      );
      // Claims cannot be listed: read every claim id the fuzzer has seen, on every queue.
      const claims =
        collection === '/v2/queues'
          ? (
              await Promise.all(
                known.all('claim').flatMap((id) =>
                  names.map(async (name) => {
                    const claim = await read(app, `${collection}/${encodeURIComponent(name)}/claims/${id}`, project);
                    return [`${name}/${id}`, claim] as const;
                  }),
                ),
              )
            ).filter(([, claim]) => claim.status !== 404)
          : [];
      return [
        `${project}${collection}`,
        { plain, detailed, each: Object.fromEntries(each), claims: Object.fromEntries(claims) },
      ] as const;
    }),
  );
  const state: Record<string, unknown> = Object.fromEntries(await Promise.all(collections));
  if (target.catalog !== null) {
    const catalog = target.catalog;
    const [pools, flavors, routes] = await Promise.all([
      pages(app, '/v2/pools?limit=20&detailed=true', 'pools', null),
      pages(app, '/v2/flavors?limit=20&detailed=true', 'flavors', null),
      Promise.all(
        PROJECTS.flatMap((project) =>
          QUEUE_NAMES.map(async (name) => [`${project}/${name}`, await catalog.route(project, name)] as const),
        ),
      ),
    ]);
    Object.assign(state, { pools, flavors, routes: Object.fromEntries(routes) });
  }
  return state;
}
