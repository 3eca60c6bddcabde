export { buildHttpApp, type HttpAppOptions } from './app.js';
export { hasOverflowingInteger, readJson, requireJson } from './body.js';
export { tooManyConnectionsAnswer } from './client-errors.js';
export type { CorsPolicy } from './cors.js';
export { answerFor, ERROR_STATUS, type HttpAnswer, HttpError, UNAVAILABLE_TITLE } from './errors.js';
export { type ApiVersion, homeDocument, V1_1, V2, versionsDocument } from './home-document.js';
export { acceptsJson, type RequestIdentity } from './request-guard.js';
export type { RequestObserver, RouteCounter } from './request-observer.js';
export { PATCH_MEDIA_TYPE } from './routes/queue-routes.js';
