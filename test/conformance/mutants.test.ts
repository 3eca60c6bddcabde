/**
 * Proof that the conformance suite can fail. Each mutant is the memory driver with one
 * behaviour of the contract broken on purpose; every case it names must fail against it. A
 * case that passes against a mutant breaking the very thing it names is a test that cannot fail.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ConformanceCase, conformanceCases, runCase } from '../../src/conformance/index.js';
import {
  type Clock,
  type FakeClock,
  InvalidArgumentError,
  type Message,
  MessageNotFoundError,
} from '../../src/core/index.js';
import type {
  ClaimController,
  DataDriver,
  MessageController,
  QueueController,
  SubscriptionController,
} from '../../src/store/contract/index.js';
import { createMemoryDriver } from '../../src/store/memory/index.js';

interface Patches {
  queues?: Partial<QueueController>;
  messages?: Partial<MessageController>;
  claims?: Partial<ClaimController>;
  subscriptions?: Partial<SubscriptionController>;
  driver?: Partial<Pick<DataDriver, 'isAlive' | 'gc' | 'close'>>;
}

/** The driver with some methods replaced; the rest still reach the real one. */
function patch(inner: DataDriver, patches: Patches): DataDriver {
  const controller = <T extends object>(base: T, over: Partial<T> | undefined): T =>
    new Proxy(base, {
      get: (target, key) => (over && key in over ? over[key as keyof T] : Reflect.get(target, key)),
    });
  return new Proxy(inner, {
    get(target, key) {
      if (key === 'queues') return controller(target.queues, patches.queues);
      if (key === 'messages') return controller(target.messages, patches.messages);
      if (key === 'claims') return controller(target.claims, patches.claims);
      if (key === 'subscriptions') return controller(target.subscriptions, patches.subscriptions);
      if (patches.driver && key in patches.driver) return patches.driver[key as keyof typeof patches.driver];
      return Reflect.get(target, key);
    },
  });
}

interface Mutant {
  /** What is broken. */
  breaks: string;
  /** Names of the cases that must fail (a prefix of the case name is enough). */
  caughtBy: string[];
  open(clock: FakeClock): DataDriver;
}

const memory = (clock: Clock) => createMemoryDriver({ clock });

/** A mutant built by patching the memory driver. */
function mutant(breaks: string, caughtBy: string[], patches: (d: DataDriver, clock: FakeClock) => Patches): Mutant {
  return {
    breaks,
    caughtBy,
    open: (clock) => {
      const d = memory(clock);
      return patch(d, patches(d, clock));
    },
  };
}

async function drain(d: DataDriver, project: string, queue: string): Promise<void> {
  while ((await d.messages.pop(project, queue, 20)).length > 0);
}

/**
 * A post that remembers keys itself, by `slot`, and forever: a stand-in for broken idempotency.
 * With `racy`, it looks the key up, posts, then remembers, so a repeat in flight meanwhile posts too.
 */
function rememberedBy(
  d: DataDriver,
  slot: (project: string, queue: string, key: string) => string,
  racy: boolean,
): Partial<MessageController> {
  const known = new Map<string, Promise<string[]> | string[]>();
  return {
    async post(p, q, l, c, o) {
      const key = o?.idempotencyKey;
      if (key === undefined) return d.messages.post(p, q, l, c);
      const at = slot(p, q, key);
      const found = known.get(at);
      if (found) return found;
      if (racy) {
        const ids = await d.messages.post(p, q, l, c);
        known.set(at, ids);
        return ids;
      }
      const posting = d.messages.post(p, q, l, c);
      known.set(at, posting);
      return posting;
    },
  };
}

const mutants: Mutant[] = [
  // queues
  mutant(
    'create overwrites the metadata of an existing queue and always answers true',
    ['create answers true once'],
    (d) => ({
      queues: {
        async create(p, q, m) {
          if (!(await d.queues.create(p, q, m))) await d.queues.setMetadata(p, q, m ?? {});
          return true;
        },
      },
    }),
  ),
  mutant('setMetadata merges instead of replacing', ['setMetadata replaces'], (d) => ({
    queues: {
      async setMetadata(p, q, m) {
        await d.queues.setMetadata(p, q, { ...(await d.queues.getMetadata(p, q)), ...m });
      },
    },
  })),
  (() => {
    const kept = new Map<string, Record<string, unknown>>();
    return mutant('metadata is stored by reference', ['metadata is copied'], (d) => ({
      queues: {
        async create(p, q, m) {
          if (m) kept.set(`${p}/${q}`, m);
          return d.queues.create(p, q, m);
        },
        async getMetadata(p, q) {
          await d.queues.getMetadata(p, q);
          return kept.get(`${p}/${q}`) ?? {};
        },
      },
    }));
  })(),
  mutant(
    'a fenced delete of a message already gone succeeds silently',
    ['under a live claim a fenced delete deletes', 'after the claim expired and the message was re-claimed'],
    (d) => ({
      messages: { delete: (p, q, id, o) => d.messages.delete(p, q, id, { ...o, fenced: false }) },
    }),
  ),
  mutant('delete only empties the queue', ['delete removes the queue'], (d) => ({
    queues: { delete: (p, q) => drain(d, p, q) },
  })),
  mutant('list ignores the marker', ['list pages through queues'], (d) => ({
    queues: { list: (p, o) => d.queues.list(p, { ...o, marker: undefined }) },
  })),
  mutant('list ignores the name filter', ['list shows metadata when detailed'], (d) => ({
    queues: { list: (p, o) => d.queues.list(p, { ...o, name: undefined }) },
  })),
  // messages
  mutant('get drops the checksum', ['post returns distinct ids'], (d) => ({
    messages: {
      async get(p, q, id) {
        const { checksum: _, ...rest } = await d.messages.get(p, q, id);
        return rest;
      },
    },
  })),
  mutant('bodies go through JSON, so bytes are lost', ['bodies round-trip'], (d) => ({
    messages: {
      post: (p, q, list, c) =>
        d.messages.post(
          p,
          q,
          list.map((m) => ({ ...m, body: JSON.parse(JSON.stringify(m.body)) })),
          c,
        ),
    },
  })),
  (() => {
    const bodies = new Map<string, unknown>();
    return mutant('bodies are stored by reference', ['bodies are copied'], (d) => ({
      messages: {
        async post(p, q, list, c) {
          const ids = await d.messages.post(p, q, list, c);
          for (const [i, id] of ids.entries()) bodies.set(id, list[i]?.body);
          return ids;
        },
        async get(p, q, id) {
          return { ...(await d.messages.get(p, q, id)), body: bodies.get(id) };
        },
      },
    }));
  })(),
  mutant('pages come newest first', ['FIFO'], (d) => ({
    messages: {
      async list(p, q, o) {
        const page = await d.messages.list(p, q, o);
        return { ...page, messages: [...page.messages].reverse() };
      },
    },
  })),
  mutant(
    'the next marker points one message back, so pages repeat',
    ['marker paging neither skips nor repeats, and'],
    (d) => ({
      messages: {
        async list(p, q, o) {
          const page = await d.messages.list(p, q, o);
          if (page.messages.length < 2) return page;
          const shorter = await d.messages.list(p, q, { ...o, limit: page.messages.length - 1 });
          return { ...page, marker: shorter.marker };
        },
      },
    }),
  ),
  mutant(
    'the next marker jumps to the end of the queue, so messages are skipped',
    ['marker paging neither skips nor repeats while'],
    (d) => ({
      messages: {
        async list(p, q, o) {
          const page = await d.messages.list(p, q, o);
          let marker = page.marker;
          for (let more = page.messages.length > 0; more; ) {
            const next = await d.messages.list(p, q, { ...o, marker: marker ?? undefined });
            more = next.messages.length > 0;
            marker = next.marker;
          }
          return { ...page, marker };
        },
      },
    }),
  ),
  mutant('echo is always on', ['echo'], (d) => ({
    messages: { list: (p, q, o) => d.messages.list(p, q, { ...o, echo: true }) },
  })),
  mutant('listing always includes claimed messages', ['listing hides claimed'], (d) => ({
    messages: { list: (p, q, o) => d.messages.list(p, q, { ...o, includeClaimed: true }) },
  })),
  mutant('bulkGet answers in reverse order', ['bulkGet returns'], (d) => ({
    messages: { bulkGet: async (p, q, ids) => (await d.messages.bulkGet(p, q, ids)).reverse() },
  })),
  mutant('delete ignores claims', ['delete: free messages go'], (d) => ({
    messages: {
      delete: async (p, q, id) => {
        await d.messages.bulkDelete(p, q, [id]);
      },
    },
  })),
  mutant('bulkDelete reports every id asked as deleted', ['a fenced bulk delete deletes and reports'], (d) => ({
    messages: {
      bulkDelete: async (p, q, ids, o) => {
        await d.messages.bulkDelete(p, q, ids, o);
        return ids;
      },
    },
  })),
  (() => {
    const held = new Map<string, string[]>();
    return mutant(
      'bulkDelete honours a claim id after its claim expired or was released',
      ['a fenced bulk delete under an expired or released claim'],
      (d) => ({
        claims: {
          async create(p, q, o) {
            const claim = await d.claims.create(p, q, o);
            if (claim)
              held.set(
                claim.id,
                claim.messages.map((m) => m.id),
              );
            return claim;
          },
        },
        messages: {
          bulkDelete(p, q, ids, o) {
            if (o?.claimIds === undefined) return d.messages.bulkDelete(p, q, ids, o);
            const once = new Set(o.claimIds.flatMap((id) => held.get(id) ?? []));
            return d.messages.bulkDelete(
              p,
              q,
              ids.filter((id) => once.has(id)),
            );
          },
        },
      }),
    );
  })(),
  mutant('bulkDelete ignores claim ids', ['bulkDelete removes'], (d) => ({
    messages: { bulkDelete: (p, q, ids) => d.messages.bulkDelete(p, q, ids) },
  })),
  mutant('pop does not delete', ['pop takes and deletes'], (d) => ({
    messages: {
      pop: async (p, q, limit) =>
        (await d.queues.exists(p, q)) ? (await d.messages.list(p, q, { limit, echo: true })).messages : [],
    },
  })),
  // claims
  mutant('claims ignore their limit', ['a claim takes the oldest'], (d) => ({
    claims: { create: (p, q, o) => d.claims.create(p, q, { ...o, limit: undefined }) },
  })),
  mutant('a claim never ages', ['get returns the claim'], (d) => ({
    claims: { get: async (p, q, id) => ({ ...(await d.claims.get(p, q, id)), age: 0 }) },
  })),
  (() => {
    const seen = new Map<string, Awaited<ReturnType<ClaimController['get']>>>();
    return mutant('an expired claim lives on', ['an expired claim frees'], (d) => ({
      claims: {
        async create(p, q, o) {
          const claim = await d.claims.create(p, q, o);
          if (claim) seen.set(claim.id, claim);
          return claim;
        },
        async get(p, q, id) {
          try {
            return await d.claims.get(p, q, id);
          } catch (error) {
            const old = seen.get(id);
            if (old) return old;
            throw error;
          }
        },
      },
    }));
  })(),
  mutant('renewing a claim does nothing', ['update renews a claim'], () => ({
    claims: { update: async () => {} },
  })),
  mutant('releasing a claim does nothing', ['delete releases the messages'], () => ({
    claims: { delete: async () => {} },
  })),
  ...(['a claim lengthens the life', 'renewing a claim lengthens'].map((name) => {
    const born = new Map<string, Message>();
    return mutant('a claim does not lengthen message lives', [name], (d, clock) => ({
      messages: {
        async post(p, q, list, c) {
          const ids = await d.messages.post(p, q, list, c);
          for (const id of ids) born.set(id, await d.messages.get(p, q, id));
          return ids;
        },
        async get(p, q, id) {
          const m = await d.messages.get(p, q, id);
          const original = born.get(id);
          if (original && clock.now() >= original.expiresAt) throw new MessageNotFoundError(q, id);
          return { ...m, ttl: original?.ttl ?? m.ttl };
        },
      },
    }));
  }) as Mutant[]),
  (() => {
    const stolen = new Map<string, Message[]>();
    return mutant('a claim also takes messages other claims hold', ['claims never overlap'], (d) => ({
      claims: {
        async create(p, q, o) {
          const claim = await d.claims.create(p, q, o);
          const held = (await d.messages.list(p, q, { includeClaimed: true, echo: true, limit: 20 })).messages.filter(
            (m) => m.claimId !== null && m.claimId !== claim?.id,
          );
          if (!claim || held.length === 0) return claim;
          stolen.set(claim.id, held.slice(0, 1));
          return claim;
        },
        async get(p, q, id) {
          const claim = await d.claims.get(p, q, id);
          return { ...claim, messages: [...claim.messages, ...(stolen.get(id) ?? [])] };
        },
      },
    }));
  })(),
  mutant('claims also take delayed messages', ['claims skip messages whose delay'], (d, clock) => ({
    claims: {
      async create(p, q, o) {
        const claim = await d.claims.create(p, q, o);
        const delayed = (await d.messages.list(p, q, { includeDelayed: true, echo: true })).messages.filter(
          (m) => m.visibleAt > clock.now(),
        );
        return claim ? { ...claim, messages: [...delayed, ...claim.messages] } : claim;
      },
    },
  })),
  // lifetimes
  {
    breaks: 'messages expire a minute late',
    caughtBy: ['a message past its ttl'],
    open: (clock) => {
      const start = clock.now();
      return memory({ now: () => start + (clock.now() - start) / 2, setTimer: clock.setTimer.bind(clock) });
    },
  },
  mutant('gc does nothing', ['gc reclaims'], () => ({
    driver: { gc: async () => ({ messages: 0, claims: 0, subscriptions: 0 }) },
  })),
  (() => {
    const ever = new Set<string>();
    return mutant('an expired subscription still exists', ['an expired subscription is gone'], (d) => ({
      subscriptions: {
        async create(p, q, s, o) {
          const created = await d.subscriptions.create(p, q, s, o);
          ever.add(created.id);
          return created;
        },
        exists: async (p, q, id) => ever.has(id) || d.subscriptions.exists(p, q, id),
      },
    }));
  })(),
  mutant('listings always include delayed messages', ['a delayed message is hidden'], (d) => ({
    messages: { list: (p, q, o) => d.messages.list(p, q, { ...o, includeDelayed: true }) },
  })),
  // dead letters
  mutant('_max_claim_count is dropped', ['a message claimed _max_claim_count'], (d) => ({
    queues: {
      create: (p, q, m) => {
        const { _max_claim_count: _, ...rest } = m ?? {};
        return d.queues.create(p, q, rest);
      },
    },
  })),
  mutant('_dead_letter_queue_messages_ttl is dropped', ['_dead_letter_queue_messages_ttl gives'], (d) => ({
    queues: {
      create: (p, q, m) => {
        const { _dead_letter_queue_messages_ttl: _, ...rest } = m ?? {};
        return d.queues.create(p, q, rest);
      },
    },
  })),
  mutant('dead-lettering turns on with half its settings', ['dead-lettering is off unless'], (d) => ({
    queues: {
      create: (p, q, m) => d.queues.create(p, q, { _max_claim_count: 1, _dead_letter_queue: 'dlq', ...m }),
    },
  })),
  // stats
  mutant('stats count claimed messages as free', ['stats count claimed'], (d) => ({
    queues: {
      async stats(p, q) {
        const s = await d.queues.stats(p, q);
        return { ...s, free: s.total };
      },
    },
  })),
  // projects
  mutant('every project shares one namespace', ['the same queue name in two projects'], (d) => {
    const one = (_p: string) => 'shared-namespace';
    const wrap = <T extends object>(c: T): Partial<T> =>
      Object.fromEntries(
        Object.entries(c).map(([k, f]) => [
          k,
          (p: string, ...rest: unknown[]) => (f as (...a: unknown[]) => unknown)(one(p), ...rest),
        ]),
      ) as Partial<T>;
    return {
      queues: wrap(d.queues),
      messages: wrap(d.messages),
      claims: wrap(d.claims),
      subscriptions: wrap(d.subscriptions),
    };
  }),
  mutant('the global project is refused', ['the global project'], (d) => ({
    messages: {
      post: (p, q, l, c) => {
        if (p === '') throw new InvalidArgumentError('project', 'must not be empty');
        return d.messages.post(p, q, l, c);
      },
    },
  })),
  // subscriptions
  mutant('confirm does nothing', ['create, get, exists'], () => ({
    subscriptions: { confirm: async () => {} },
  })),
  mutant('a subscriber may subscribe twice', ['one subscription per'], (d) => ({
    subscriptions: {
      async create(p, q, s, o) {
        const existing = await d.subscriptions.getBySubscriber(p, q, s);
        if (existing) await d.subscriptions.delete(p, q, existing.id);
        return d.subscriptions.create(p, q, s, o);
      },
    },
  })),
  mutant('subscription listing ignores the marker', ['list pages through subscriptions'], (d) => ({
    subscriptions: { list: (p, q, o) => d.subscriptions.list(p, q, { ...o, marker: undefined }) },
  })),
  // bad input
  {
    breaks: 'a ttl under 60 is accepted',
    caughtBy: ['every bad argument'],
    open: (clock) => createMemoryDriver({ clock, limits: { minMessageTtl: 1, minClaimTtl: 1 } }),
  },
  mutant(
    'a batch is written message by message, so a bad message leaves the good ones',
    ['every bad argument'],
    (d) => ({
      messages: {
        async post(p, q, list, c) {
          if (Array.isArray(list)) {
            for (const m of list) await d.messages.post(p, q, [m], c).catch(() => {});
          }
          return d.messages.post(p, q, list, c); // the whole batch again, for the error it raises
        },
      },
    }),
  ),
  // idempotency
  mutant(
    'the idempotency key is ignored',
    [
      'a repeat with the same key',
      'a body with its keys in another order',
      'the key with other messages',
      'two posts with one key racing',
      'the key is remembered for the queue window',
      'keys that are empty',
    ],
    (d) => ({ messages: { post: (p, q, l, c) => d.messages.post(p, q, l, c) } }),
  ),
  mutant('the fingerprint depends on the order of a body keys', ['a body with its keys in another order'], (d) => ({
    messages: {
      post: (p, q, l, c, o) =>
        d.messages.post(p, q, l, c, o && { ...o, fingerprint: Buffer.from(JSON.stringify(l)).toString('hex') }),
    },
  })),
  mutant('the fingerprint is ignored', ['the key with other messages'], (d) => ({
    messages: { post: (p, q, l, c, o) => d.messages.post(p, q, l, c, o && { ...o, fingerprint: 'same' }) },
  })),
  mutant('keys are remembered per project, not per queue', ['keys are per queue'], (d) => ({
    messages: rememberedBy(d, (p, _q, k) => `${p}\u0000${k}`, false),
  })),
  mutant(
    'keys are remembered forever, through a queue delete',
    ['deleting the queue forgets', 'the key is remembered for the queue window'],
    (d) => ({ messages: rememberedBy(d, (p, q, k) => `${p}\u0000${q}\u0000${k}`, false) }),
  ),
  mutant('a repeat racing the first post is posted too', ['two posts with one key racing'], (d) => ({
    messages: rememberedBy(d, (p, q, k) => `${p}\u0000${q}\u0000${k}`, true),
  })),
  // driver
  mutant('isAlive says no', ['declares its capabilities'], () => ({
    driver: { isAlive: async () => false },
  })),
  mutant('close does not close', ['after close every call'], () => ({
    driver: { close: async () => {} },
  })),
];

function casesNamed(prefix: string): ConformanceCase[] {
  const found = conformanceCases.filter((c) => c.name.startsWith(prefix));
  assert.ok(found.length > 0, `no conformance case starts with ${JSON.stringify(prefix)}`);
  return found;
}

describe('every conformance case fails against a driver that breaks what it names', () => {
  for (const m of mutants) {
    for (const prefix of m.caughtBy) {
      it(`${prefix}… catches: ${m.breaks}`, async () => {
        for (const testCase of casesNamed(prefix)) {
          const target = { name: `mutant (${m.breaks})`, open: async (clock: FakeClock) => m.open(clock) };
          await assert.rejects(
            runCase(target, testCase),
            (error: unknown) => {
              // A mutant that merely crashes (a bug in the mutant) would prove nothing.
              assert.ok(
                !(error instanceof TypeError || error instanceof ReferenceError),
                `case "${testCase.name}" failed for the wrong reason: ${String(error)}`,
              );
              if (process.env.SHOW_MUTANT_ERRORS) console.log(`${m.breaks}: ${String(error).split('\n')[0]}`);
              return true;
            },
            `case "${testCase.name}" passed against the mutant`,
          );
        }
      });
    }
  }

  it('every case that runs on the memory driver has a mutant', () => {
    const covered = new Set(mutants.flatMap((m) => m.caughtBy.flatMap((p) => casesNamed(p).map((c) => c.name))));
    const uncovered = conformanceCases.filter((c) => !c.needsReopen && !covered.has(c.name)).map((c) => c.name);
    assert.deepEqual(uncovered, []);
  });
});
