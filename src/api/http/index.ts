export { buildHttpApp, type HttpAppOptions } from './app.js';
export { readJson, requireJson } from './body.js';
export { tooManyConnectionsAnswer } from './client-errors.js';
export type { CorsPolicy } from './cors.js';
export { acceptsJson, type RequestIdentity } from './request-guard.js';
export type { RequestObserver, RouteCounter } from './request-observer.js';
export { PATCH_MEDIA_TYPE } from './routes/queue-routes.js';
