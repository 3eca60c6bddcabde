import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import { PosthornError } from '../../core/index.js';

/**
 * GET /metrics under `posthorn serve --workers N`. The port is shared, so a scrape reaches one
 * worker, which alone counted only the requests that reached it. The worker asks the primary,
 * the primary asks every worker for its metrics (each reads its scrape-time gauges first) and
 * sums them with prom-client's AggregatorRegistry — counters and histograms add up, gauges read
 * from the shared stores take their metric's own aggregator (see posthorn-metrics.ts) — and the
 * asking worker answers with the whole.
 */

const ASK = 'posthorn:metrics-ask';
const PART = 'posthorn:metrics-part';
const PART_ANSWER = 'posthorn:metrics-part-answer';
const WHOLE = 'posthorn:metrics-whole';

/** Milliseconds the primary waits for every worker's part; a worker that is late is left out. */
const PART_TIMEOUT_MS = 5_000;
/** Milliseconds a worker waits for the whole (beyond the primary's wait). */
const WHOLE_TIMEOUT_MS = PART_TIMEOUT_MS + 2_000;

interface Message {
  type?: unknown;
  id?: unknown;
  metrics?: object[];
  text?: string;
  error?: string;
}

/** The workers' metrics could not be gathered (the primary did not answer, or failed to sum them): a 503. */
export class ClusterScrapeError extends PosthornError {
  readonly code = 'PH_REQUEST_FAILED';
}

/** In the primary: gathers and sums the workers' metrics when one of them asks. */
export function relayClusterScrapes(): void {
  let next = 0;
  const gathering = new Map<number, { parts: object[][]; pending: number; finish: () => void }>();
  cluster.on('message', (asker: Worker, message: Message) => {
    if (message?.type === PART_ANSWER && typeof message.id === 'number') {
      const gathered = gathering.get(message.id);
      if (gathered === undefined) return;
      if (message.metrics) gathered.parts.push(message.metrics);
      if (--gathered.pending === 0) gathered.finish();
      return;
    }
    if (message?.type !== ASK || typeof message.id !== 'number') return;
    const askedId = message.id;
    const id = next++;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w?.isConnected() === true);
    // Once every part came, or when the wait is over with what came.
    const finish = async () => {
      if (!gathering.delete(id)) return;
      clearTimeout(timer);
      let answer: Message;
      try {
        answer = { type: WHOLE, id: askedId, text: await AggregatorRegistry.aggregate(gathered.parts).metrics() };
      } catch (error) {
        answer = { type: WHOLE, id: askedId, error: (error as Error).message };
      }
      if (asker.isConnected()) asker.send(answer);
    };
    const gathered = { parts: [] as object[][], pending: workers.length, finish: () => void finish() };
    gathering.set(id, gathered);
    const timer = setTimeout(gathered.finish, PART_TIMEOUT_MS);
    for (const w of workers) w.send({ type: PART, id });
    if (workers.length === 0) gathered.finish();
  });
}

/**
 * In a worker: answers the primary's requests for this worker's part (`part`: its metrics as
 * JSON, gauges read) and returns the scrape to serve — the sum over every worker.
 */
export function clusterScrape(part: () => Promise<object[]>): () => Promise<string> {
  let next = 0;
  const asked = new Map<number, { resolve: (text: string) => void; reject: (error: Error) => void }>();
  process.on('message', (message: Message) => {
    if (message?.type === PART && typeof message.id === 'number') {
      const id = message.id;
      part().then(
        (metrics) => process.send?.({ type: PART_ANSWER, id, metrics }),
        (error: unknown) => process.send?.({ type: PART_ANSWER, id, error: (error as Error).message }),
      );
    } else if (message?.type === WHOLE && typeof message.id === 'number') {
      const waiter = asked.get(message.id);
      if (waiter === undefined) return;
      asked.delete(message.id);
      if (typeof message.text === 'string') waiter.resolve(message.text);
      else waiter.reject(new ClusterScrapeError(`the workers' metrics could not be summed: ${message.error}`));
    }
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        asked.delete(id);
        reject(new ClusterScrapeError('the primary did not answer with the workers’ metrics in time'));
      }, WHOLE_TIMEOUT_MS);
      const settle =
        <T>(done: (value: T) => void) =>
        (value: T) => {
          clearTimeout(timer);
          done(value);
        };
      asked.set(id, { resolve: settle(resolve), reject: settle(reject) });
      process.send?.({ type: ASK, id });
    });
}
