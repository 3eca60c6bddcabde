import { Counter, Histogram, type MetricType, type Registry } from 'prom-client';

/**
 * Counters and histograms whose series are plain numbers on the request path, handed to
 * prom-client only when Prometheus scrapes. prom-client hashes a series' label set on every
 * `inc` and `observe`, even through a child from `labels()`: about 4 µs a request for one
 * counter and one histogram on this machine (bench/RESULTS.md, 2026-12-03), which is most of
 * what metrics cost a request. Here the request path adds to numbers in an object it already
 * holds; the hashing happens once per series per scrape.
 */

/** One series of a counter. */
export interface CountTally {
  value: number;
}

/** One series of a histogram: counts per bucket (the last is +Inf), their sum and count. */
export class HistogramTally {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count++;
  }
}

interface Series<T> {
  labels: Record<string, string>;
  tally: T;
}

/** A labelled family of tallies: `series(...values)` makes one once, callers keep it. */
class Family<T> {
  private readonly byKey = new Map<string, Series<T>>();

  constructor(
    private readonly labelNames: readonly string[],
    private readonly make: () => T,
  ) {}

  series(values: readonly string[]): T {
    const key = values.join('\u0000');
    let known = this.byKey.get(key);
    if (known === undefined) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((name, i) => {
        labels[name] = values[i] ?? '';
      });
      known = { labels, tally: this.make() };
      this.byKey.set(key, known);
    }
    return known.tally;
  }

  all(): IterableIterator<Series<T>> {
    return this.byKey.values();
  }
}

/** A counter family of plain-number series, shown by a prom-client Counter at scrape time. */
export class TallyCounter {
  private readonly family: Family<CountTally>;

  constructor(registry: Registry, name: string, help: string, labelNames: readonly string[]) {
    const family = new Family<CountTally>(labelNames, () => ({ value: 0 }));
    this.family = family;
    new Counter({
      name,
      help,
      labelNames: [...labelNames],
      registers: [registry],
      collect() {
        this.reset();
        for (const { labels, tally } of family.all()) this.inc(labels, tally.value);
      },
    });
  }

  /** The series of these label values (in labelNames' order); shown from now on, at 0 until counted. */
  series(...values: string[]): CountTally {
    return this.family.series(values);
  }
}

/**
 * A histogram family of plain-number series. prom-client's Histogram renders it: this subclass
 * answers the registry's reads from the tallies instead of from prom-client's own hash map, in
 * the shape prom-client's Histogram gives them (`_bucket` per bound with `le`, then +Inf,
 * `_sum`, `_count`), so the text is prom-client's.
 */
export class TallyHistogram extends Histogram<string> {
  private readonly family: Family<HistogramTally>;

  constructor(
    registry: Registry,
    private readonly metricName: string,
    private readonly metricHelp: string,
    labelNames: readonly string[],
    private readonly bounds: number[],
  ) {
    super({ name: metricName, help: metricHelp, labelNames: [...labelNames], buckets: bounds, registers: [registry] });
    this.family = new Family(labelNames, () => new HistogramTally(bounds));
  }

  /** The series of these label values (in labelNames' order). */
  series(...values: string[]): HistogramTally {
    return this.family.series(values);
  }

  override async get(): Promise<Awaited<ReturnType<Histogram<string>['get']>>> {
    const text = await this.getForPromString();
    return { ...text, values: text.values.map((v) => ({ ...v, labels: { ...v.labels, ...v.sharedLabels } })) };
  }

  /**
   * What prom-client's Registry reads when it renders text (it prefers this to get()): a
   * bucket's `le` as its labels and the series' labels as shared ones, so `le` comes first.
   */
  async getForPromString() {
    return {
      name: this.metricName,
      help: this.metricHelp,
      // prom-client's typings say an enum; at run time (and in the text) the type is this string.
      type: 'histogram' as unknown as MetricType,
      values: this.values(),
      aggregator: 'sum' as const,
      collect: () => {},
    };
  }

  private values() {
    const values: {
      metricName: string;
      labels: Record<string, string | number>;
      sharedLabels: Record<string, string>;
      value: number;
    }[] = [];
    const name = this.metricName;
    for (const { labels, tally } of this.family.all()) {
      // As prom-client's own histograms: a series appears once it has observed something (a
      // pool's observer makes commit and round-trip series, and only one of them is its kind's).
      if (tally.count === 0) continue;
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += tally.counts[i] ?? 0;
        values.push({ metricName: `${name}_bucket`, labels: { le: bound }, sharedLabels: labels, value: cumulative });
      });
      values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, sharedLabels: labels, value: tally.count });
      values.push({ metricName: `${name}_sum`, labels: {}, sharedLabels: labels, value: tally.sum });
      values.push({ metricName: `${name}_count`, labels: {}, sharedLabels: labels, value: tally.count });
    }
    return values;
  }
}
