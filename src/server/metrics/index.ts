export { LabelBudget, OTHER } from './label-budget.js';
export { answerScrape, listenMetrics, MetricsGate, serveMetricsRoute } from './metrics-endpoint.js';
export { type MetricsSources, PosthornMetrics, type PosthornMetricsOptions } from './posthorn-metrics.js';
export { capDepths, MAX_QUEUES_READ, type QueueDepth } from './queue-depths.js';
export { type ServedMetrics, serveMetrics } from './serve-metrics.js';
