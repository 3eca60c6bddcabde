// The parser ships no types: what `posthorn top` (queue-metrics.ts) and the metrics tests read.
declare module 'parse-prometheus-text-format' {
  /** One metric family: a counter's or gauge's samples carry `value`, a histogram's `count`/`sum`. */
  interface ParsedFamily {
    name: string;
    help: string;
    type: string;
    metrics: { labels?: Record<string, string>; value?: string; count?: string; sum?: string }[];
  }
  const parse: (text: string) => ParsedFamily[];
  export default parse;
}
