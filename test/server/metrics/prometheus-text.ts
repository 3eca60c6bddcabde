import parsePrometheusTextFormat from 'parse-prometheus-text-format';

/** One sample of a parsed family: a counter's or gauge's value, or a histogram's count and sum. */
export interface Sample {
  labels: Record<string, string>;
  value?: string;
  count?: string;
  sum?: string;
  buckets?: Record<string, string>;
}

export interface Family {
  name: string;
  help: string;
  type: string;
  metrics: Sample[];
}

/** Parses Prometheus text with a real parser (it throws on text that is not the format). */
export function parseMetrics(text: string): Map<string, Family> {
  const families = (parsePrometheusTextFormat as (text: string) => Family[])(text);
  return new Map(families.map((f) => [f.name, f]));
}

/** The value of the sample of `name` whose labels include `labels`; undefined when there is none. */
export function sampleValue(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const family = families.get(name);
  if (family === undefined) return undefined;
  const sample = family.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  if (sample === undefined) return undefined;
  return Number(sample.value ?? sample.count);
}
