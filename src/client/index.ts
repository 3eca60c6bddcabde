/** The client part's public face: the typed HTTP client of Zaqar v2, the Worker and the queues it runs over. */
export type { ClientAuth, KeystoneCredentials, RequestAuth } from './auth.js';
export { KeystoneAuth, requestAuth } from './auth.js';
export type { ClientOptions } from './client.js';
export { createClient, PosthornClient } from './client.js';
export type { RouteContext, ServerAnswer, ServerAnswerFields } from './error-mapping.js';
export { errorFromAnswer, serverAnswerOf } from './error-mapping.js';
export type {
  HttpMethod,
  RetryOptions,
  TransportOptions,
  TransportRequest,
  TransportResponse,
} from './http-transport.js';
export { HttpTransport } from './http-transport.js';
export { QueueHandle } from './queue-handle.js';
export type { HandleContext } from './resource-handle.js';
export { PATCH_MEDIA_TYPE, ResourceHandle } from './resource-handle.js';
export { TopicHandle } from './topic-handle.js';
export type * from './types.js';
export * from './workers.js';
export type { WsSubscribeOptions, WsSubscriptionParams } from './ws-subscription.js';
export { WsSubscription } from './ws-subscription.js';
