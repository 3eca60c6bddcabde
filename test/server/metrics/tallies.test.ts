import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { TallyCounter, TallyHistogram } from '../../../src/server/metrics/tallies.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];

// Tallies must render exactly what prom-client's own metrics render for the same observations:
// the scrape text is prom-client's, only the counting on the request path is ours.
describe('metrics tallies', () => {
  it('a tally histogram renders the text of a prom-client histogram fed the same values', async () => {
    const theirs = new Registry();
    const ours = new Registry();
    const reference = new Histogram({
      name: 'h_seconds',
      help: 'help',
      labelNames: ['route', 'status'],
      buckets: BUCKETS,
      registers: [theirs],
    });
    const tally = new TallyHistogram(ours, 'h_seconds', 'help', ['route', 'status'], BUCKETS);
    const values = [0.0005, 0.001, 0.002, 0.05, 0.5, 1, 7, 0.01, 0.0999];
    for (const [i, value] of values.entries()) {
      const labels = i % 3 === 0 ? ['/a', '200'] : ['/b/:id', '404'];
      reference.labels(...labels).observe(value);
      tally.series(...labels).observe(value);
    }
    tally.series('/never', '200'); // made but never observed: not shown, as prom-client's children
    assert.equal(await ours.metrics(), await theirs.metrics());
  });

  it('a tally counter renders the text of a prom-client counter, series shown from their first use at 0', async () => {
    const theirs = new Registry();
    const ours = new Registry();
    const reference = new Counter({ name: 'c_total', help: 'help', labelNames: ['queue'], registers: [theirs] });
    const tally = new TallyCounter(ours, 'c_total', 'help', ['queue']);
    reference.labels('a').inc(3);
    reference.labels('zero').inc(0);
    reference.labels('b').inc(1);
    tally.series('a').value += 3;
    tally.series('zero');
    tally.series('b').value++;
    assert.equal(await ours.metrics(), await theirs.metrics());
    // Counting after a scrape adds to what was shown, it does not start again.
    reference.labels('a').inc(2);
    tally.series('a').value += 2;
    assert.equal(await ours.metrics(), await theirs.metrics());
  });
});
