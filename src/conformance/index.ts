import { claimCases } from './cases/claims.js';
import { deadLetterCases } from './cases/dead-letter.js';
import { fencedDeleteCases } from './cases/fenced-delete.js';
import { idempotencyCases } from './cases/idempotency.js';
import { lifecycleCases } from './cases/lifecycle.js';
import { lifetimeCases } from './cases/lifetimes.js';
import { messageCases } from './cases/messages.js';
import { projectCases } from './cases/projects.js';
import { queueCases } from './cases/queues.js';
import { statsCases } from './cases/stats.js';
import { subscriptionCases } from './cases/subscriptions.js';
import { validationCases } from './cases/validation.js';
import type { ConformanceCase } from './harness.js';

export * from './harness.js';

/** Every case of the storage contract. A driver is a driver when it passes them all. */
export const conformanceCases: readonly ConformanceCase[] = [
  ...queueCases,
  ...messageCases,
  ...fencedDeleteCases,
  ...claimCases,
  ...lifetimeCases,
  ...deadLetterCases,
  ...statsCases,
  ...projectCases,
  ...subscriptionCases,
  ...validationCases,
  ...lifecycleCases,
  ...idempotencyCases,
];
