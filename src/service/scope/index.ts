export { ClaimScope } from './claim-scope.js';
export { type ListMessagesQuery, type MessageDeletion, MessageScope } from './message-scope.js';
export { type ListQueuesQuery, QueueScope } from './queue-scope.js';
export { ResourceScope } from './resource-scope.js';
export type { ScopeContext, ScopeSettings } from './scope-context.js';
export { type CreatedSubscriptionResult, SubscriptionScope } from './subscription-scope.js';
