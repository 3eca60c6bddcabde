import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { driverQueue, type Job, LeaseLostError, Worker, type WorkerOptions } from '../../src/client/index.js';
import { ClosedError, FakeClock } from '../../src/core/index.js';
import type { DataDriver } from '../../src/store/contract/index.js';
import { gate, settle, step, stepUntil, TrackedQueue, type WorkerTarget } from './worker-support.js';

const project = 'p';

/** The Worker's behaviour over one store; the same cases run over every driver. */
export function workerCases(target: WorkerTarget): void {
  describe(`worker over ${target.name}`, () => {
    let clock: FakeClock;
    let driver: DataDriver;
    let queueNo = 0;
    let workers: Worker[] = [];
    let queueName: string;

    beforeEach(async () => {
      clock = new FakeClock();
      driver = await target.open(clock);
      queueName = `q${queueNo++}`;
      workers = [];
    });
    afterEach(async () => {
      for (const w of workers) {
        const closing = w.close();
        // A worker still waiting on handlers the test left blocked is given its timeout.
        await clock.advanceAsync(60_000);
        await closing;
      }
      await driver.close();
    });
    after(async () => {
      await target.cleanup?.();
    });

    const tracked = (name = queueName) => new TrackedQueue(driverQueue(driver, project, name));
    const start = <B>(
      queue: TrackedQueue,
      handler: (job: Job<B>, ctx: { signal: AbortSignal }) => unknown,
      options: WorkerOptions = {},
    ) => {
      const worker = new Worker<B>(queue, handler, { clock, ...options });
      worker.on('error', (error) => assert.fail(`worker error: ${String(error)}`));
      workers.push(worker as Worker);
      return worker;
    };
    const post = (bodies: unknown[], name = queueName) =>
      driver.messages.post(
        project,
        name,
        bodies.map((body) => ({ body })),
        'producer',
      );

    it('finishes the jobs of one claim that succeed together in fewer store calls than jobs, each outcome its own', async () => {
      const n = 10;
      const ids = await post(Array.from({ length: n }, (_, i) => i));
      const queue = tracked();
      const all = gate();
      let started = 0;
      const completed: string[] = [];
      const lost: string[] = [];
      const taken = ids[3] as string;
      const worker = start<number>(
        queue,
        async () => {
          if (++started === n) {
            // Someone else deletes one message under the lease: its finish must say lease-lost.
            await driver.messages.bulkDelete(project, queueName, [taken]);
            all.open();
          }
          await all.promise;
        },
        { concurrency: n, batch: n },
      );
      worker.on('completed', (job) => completed.push(job.id));
      worker.on('lease-lost', (job) => lost.push(job.id));
      await stepUntil(clock, queue, () => completed.length + lost.length === n);
      assert.deepEqual(queue.claimLimits.slice(0, 1), [n], 'one claim took them all');
      assert.deepEqual(lost, [taken]);
      assert.deepEqual([...completed].sort(), ids.filter((id) => id !== taken).sort());
      const calls = queue.finishManyCalls;
      assert.ok(calls.length < n, `${calls.length} finish calls for ${n} jobs: ${calls.join(', ')}`);
      assert.equal(
        calls.reduce((a, b) => a + b, 0),
        n,
        'every job finished exactly once',
      );
      assert.deepEqual(await driver.messages.bulkGet(project, queueName, ids), [], 'all gone from the store');
    });

    it('keeps `concurrency` handlers busy, never more, claiming min(batch, free slots)', async () => {
      await post(Array.from({ length: 20 }, (_, i) => i));
      const queue = tracked();
      let inFlight = 0;
      let most = 0;
      let waiting: (() => void)[] = [];
      const done: number[] = [];
      const worker = start<number>(
        queue,
        async (job) => {
          inFlight++;
          most = Math.max(most, inFlight);
          // Each round waits until four run at once: this fails if the worker never fills its slots.
          await new Promise<void>((resolve) => {
            waiting.push(resolve);
            if (waiting.length === 4) {
              for (const w of waiting.splice(0)) w();
            }
          });
          inFlight--;
          done.push(job.body);
        },
        { concurrency: 4, batch: 3 },
      );
      let drained = 0;
      worker.on('drained', () => drained++);
      await stepUntil(clock, queue, () => done.length === 20);
      assert.equal(most, 4);
      assert.deepEqual(
        [...done].sort((a, b) => a - b),
        Array.from({ length: 20 }, (_, i) => i),
      );
      assert.equal(queue.claimLimits[0], 3, 'the first claim takes a batch');
      assert.ok(
        queue.claimLimits.every((n) => n >= 1 && n <= 3),
        `claims ask for at most the batch: ${queue.claimLimits.join(',')}`,
      );
      // A store may answer a claim racing another one with nothing (PostgreSQL skips locked rows), so
      // drained may come more than once; what matters is that it comes once the queue is empty.
      await stepUntil(clock, queue, () => drained >= 1);
      assert.equal((await driver.queues.stats(project, queueName)).total, 0);
      waiting = [];
    });

    it('with prefetch holds concurrency + prefetch messages, runs concurrency, and gives back those it never started on close', async () => {
      await post(Array.from({ length: 10 }, (_, i) => i));
      const queue = tracked();
      const release = gate();
      let inFlight = 0;
      let most = 0;
      const started: number[] = [];
      const worker = start<number>(
        queue,
        async (job) => {
          inFlight++;
          most = Math.max(most, inFlight);
          started.push(job.body);
          await release.promise;
          inFlight--;
        },
        { concurrency: 2, prefetch: 3, batch: 5 },
      );
      await stepUntil(clock, queue, () => started.length === 2);
      const holding = await driver.queues.stats(project, queueName);
      assert.deepEqual([holding.claimed, holding.free], [5, 5], 'two running and three claimed ahead');
      const closing = worker.close();
      release.open();
      await closing;
      assert.equal(most, 2);
      assert.deepEqual(started, [0, 1]);
      const after = await driver.queues.stats(project, queueName);
      assert.deepEqual(
        [after.total, after.claimed, after.free],
        [8, 0, 8],
        'the two run are done, the three never started are free again at once',
      );
    });

    it('renews the lease while a long handler runs, so no other consumer gets the message', async () => {
      const [id] = await post(['long']);
      const queue = tracked();
      const release = gate();
      let started = false;
      const completed: string[] = [];
      const lost: string[] = [];
      const worker = start(
        queue,
        async () => {
          started = true;
          await release.promise;
        },
        { ttl: 60, grace: 60 },
      );
      worker.on('completed', (job) => completed.push(job.id));
      worker.on('lease-lost', (job) => lost.push(job.id));
      await stepUntil(clock, queue, () => started);
      // Ten leases' worth of time: without renewals the claim would have expired long ago.
      for (let i = 0; i < 20; i++) {
        await step(clock, queue, 30_000);
        assert.equal(
          await driver.claims.create(project, queueName, { ttl: 60, limit: 1 }),
          null,
          `after ${i + 1} steps`,
        );
      }
      assert.ok(queue.renewals >= 19, `renewed ${queue.renewals} times over 600 s of a 60 s lease`);
      release.open();
      await stepUntil(clock, queue, () => completed.length === 1);
      assert.deepEqual(completed, [id]);
      assert.deepEqual(lost, []);
    });

    it('a renewal that finds the lease gone aborts the handler with LeaseLostError; its finish is lease-lost', async () => {
      const [id] = await post(['x']);
      const queue = tracked();
      let claimId = '';
      const reasons: unknown[] = [];
      const events: string[] = [];
      const worker = start(
        queue,
        async (job, { signal }) => {
          claimId = job.claimId;
          await new Promise<void>((resolve) =>
            signal.addEventListener('abort', () => {
              reasons.push(signal.reason);
              resolve();
            }),
          );
        },
        { ttl: 60 },
      );
      worker.on('completed', () => events.push('completed'));
      worker.on('lease-lost', (job) => events.push(`lost ${job.id}`));
      await stepUntil(clock, queue, () => claimId !== '');
      await driver.claims.delete(project, queueName, claimId);
      await stepUntil(clock, queue, () => events.length === 1, 1000);
      assert.deepEqual(events, [`lost ${id}`]);
      assert.equal(reasons.length, 1);
      assert.ok(reasons[0] instanceof LeaseLostError);
      assert.equal((reasons[0] as LeaseLostError).messageId, id);
      assert.equal((await driver.queues.stats(project, queueName)).total, 1, 'the message was not deleted');
    });

    it('retries a failure after its backoff, with the attempt count, then completes', async () => {
      const [id] = await post([{ task: 'flaky' }]);
      const queue = tracked();
      const attempts: { attempt: number; at: number; body: unknown }[] = [];
      const retried: number[] = [];
      const backoffAsked: number[] = [];
      let completed: Job | null = null;
      const worker = start(
        queue,
        async (job) => {
          attempts.push({ attempt: job.attempt, at: clock.now(), body: job.body });
          if (job.attempt < 3) throw new Error(`fail ${job.attempt}`);
          return 'ok';
        },
        {
          maxAttempts: 3,
          backoff: (attempt) => {
            backoffAsked.push(attempt);
            return 5000;
          },
        },
      );
      worker.on('retried', (_job, _error, delayMs) => retried.push(delayMs));
      worker.on('completed', (job) => {
        completed = job;
      });
      await stepUntil(clock, queue, () => completed !== null, 250);
      assert.deepEqual(
        attempts.map((a) => a.attempt),
        [1, 2, 3],
      );
      assert.deepEqual(
        attempts.map((a) => a.body),
        [{ task: 'flaky' }, { task: 'flaky' }, { task: 'flaky' }],
        'the handler sees the body the producer posted',
      );
      assert.deepEqual(backoffAsked, [1, 2]);
      assert.deepEqual(retried, [5000, 5000]);
      for (let i = 1; i < attempts.length; i++) {
        const gap = (attempts[i]?.at as number) - (attempts[i - 1]?.at as number);
        assert.ok(gap >= 5000, `attempt ${i + 1} came ${gap} ms after the one before`);
      }
      assert.equal(attempts[0]?.attempt, 1);
      assert.notEqual((completed as Job | null)?.id, id, 'a retry is a new message');
      assert.equal((await driver.queues.stats(project, queueName)).total, 0);
    });

    it('after maxAttempts moves the job to the dead-letter queue with the last error', async () => {
      await driver.queues.create(project, queueName, { _dead_letter_queue: `${queueName}-dead` });
      const [id] = await post(['poison']);
      const queue = tracked();
      const events: string[] = [];
      const worker = start(
        queue,
        async (job) => {
          throw new Error(`boom ${job.attempt}`);
        },
        { maxAttempts: 3, backoff: () => 0 },
      );
      worker.on('retried', (job) => events.push(`retried ${job.attempt}`));
      let lastId = '';
      worker.on('dead-lettered', (job, error, dlq) => {
        lastId = job.id;
        events.push(`dead ${job.attempt} ${(error as Error).message} ${dlq}`);
      });
      worker.on('failed', () => events.push('failed'));
      worker.on('completed', () => events.push('completed'));
      await stepUntil(clock, queue, () => events.some((e) => e.startsWith('dead')));
      assert.deepEqual(events, ['retried 1', 'retried 2', `dead 3 boom 3 ${queueName}-dead`]);
      assert.equal((await driver.queues.stats(project, queueName)).total, 0);
      const page = await driver.messages.list(project, `${queueName}-dead`, { echo: true, includeClaimed: true });
      assert.equal(page.messages.length, 1);
      const dead = page.messages[0]?.body as { $posthorn: Record<string, unknown>; body: unknown };
      assert.deepEqual(dead, {
        $posthorn: { attempt: 3, error: { name: 'Error', message: 'boom 3' }, queue: queueName, id: lastId },
        body: 'poison',
      });
      assert.notEqual(lastId, id, 'the job that died was the last retry, a message of its own');
    });

    it('without a dead-letter queue, the last failure is reported failed and the message deleted', async () => {
      await post(['poison']);
      const queue = tracked();
      const failed: string[] = [];
      const worker = start(
        queue,
        async () => {
          throw new Error('always');
        },
        { maxAttempts: 1 },
      );
      worker.on('failed', (_job, error) => failed.push((error as Error).message));
      await stepUntil(clock, queue, () => failed.length === 1);
      assert.deepEqual(failed, ['always']);
      assert.equal((await driver.queues.stats(project, queueName)).total, 0);
    });

    it('close() stops claiming and waits for running handlers; on timeout it aborts them and frees their messages', async () => {
      const [first, second] = await post(['a', 'b']);
      const queue = tracked();
      const release = gate();
      const started: string[] = [];
      const reasons: unknown[] = [];
      const completed: string[] = [];
      const worker = start(
        queue,
        async (job, { signal }) => {
          started.push(job.body as string);
          if (job.body === 'a') return release.promise;
          await new Promise<void>((resolve) =>
            signal.addEventListener('abort', () => {
              reasons.push(signal.reason);
              resolve();
            }),
          );
        },
        { concurrency: 2, batch: 1, closeTimeout: 5000 },
      );
      worker.on('completed', (job) => completed.push(job.id));
      await stepUntil(clock, queue, () => started.length === 2);
      const claimsBefore = queue.claimLimits.length;
      let closed = false;
      const closing = worker.close().then(() => {
        closed = true;
      });
      release.open();
      await stepUntil(clock, queue, () => completed.length === 1);
      assert.deepEqual(completed, [first]);
      assert.equal(closed, false, 'close waits for the handler still running');
      await step(clock, queue, 4000);
      assert.equal(closed, false);
      await step(clock, queue, 1000);
      await closing;
      assert.equal(reasons.length, 1);
      assert.ok(reasons[0] instanceof ClosedError);
      assert.equal(queue.claimLimits.length, claimsBefore, 'no claim after close()');
      const again = await driver.claims.create(project, queueName, { ttl: 60, limit: 5 });
      assert.deepEqual(
        again?.messages.map((m) => m.id),
        [second],
        'the aborted message was released at once',
      );
      await settle();
    });

    it('an AbortSignal closes the worker', async () => {
      const queue = tracked();
      const controller = new AbortController();
      const worker = start(queue, () => {}, { signal: controller.signal });
      let drained = false;
      worker.on('drained', () => {
        drained = true;
      });
      await stepUntil(clock, queue, () => drained);
      controller.abort();
      await worker.close();
      const claims = queue.claimLimits.length;
      await post(['late']);
      await step(clock, queue, 5000);
      assert.equal(queue.claimLimits.length, claims);
      assert.equal((await driver.queues.stats(project, queueName)).total, 1);
    });

    it('a stalled worker: its lease expires, another completes the message, its finish is refused (exactly once, many rounds)', async () => {
      const rounds = target.name === 'memory' ? 200 : 40;
      const completions = new Map<string, number>();
      let lostCount = 0;
      for (let round = 0; round < rounds; round++) {
        const name = `${queueName}-stall-${round}`;
        const [id] = (await post([{ round }], name)) as [string];
        const a = tracked(name);
        a.blockRenew = true;
        const b = a.twin(driverQueue(driver, project, name));
        const stuck = gate();
        let aStarted = false;
        const aLost: string[] = [];
        const count = (job: Job) => completions.set(job.id, (completions.get(job.id) ?? 0) + 1);
        const workerA = start(
          a,
          async () => {
            aStarted = true;
            await stuck.promise;
          },
          { ttl: 60, grace: 60 },
        );
        workerA.on('completed', count);
        workerA.on('lease-lost', (job) => aLost.push(job.id));
        await stepUntil(clock, a, () => aStarted);
        // A's renewals never reach the store: past ttl the lease is gone.
        await step(clock, a, 61_000);
        assert.ok(a.renewals >= 1, 'A tried to renew');
        let bDone = false;
        const workerB = start(b, () => {}, { ttl: 60, grace: 60 });
        workerB.on('completed', (job) => {
          count(job);
          bDone = true;
        });
        await stepUntil(clock, b, () => bDone);
        stuck.open();
        await stepUntil(clock, a, () => aLost.length === 1);
        assert.deepEqual(aLost, [id]);
        lostCount++;
        await workerA.close();
        await workerB.close();
      }
      assert.equal(completions.size, rounds);
      const duplicates = [...completions.values()].filter((n) => n !== 1).length;
      assert.equal(duplicates, 0);
      assert.equal(lostCount, rounds);
    });
  });
}
