export { ActionError, type ActionResult, HANDLERS } from './actions.js';
export { decodeFrame, encodeFrame } from './frames.js';
export { ACTIONS, matchesSchema } from './request-schema.js';
export { listenWebSocket, WebSocketApi, type WebSocketApiOptions, type WebSocketListener } from './ws-api.js';
