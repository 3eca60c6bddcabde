export { ColumnarEngine } from './columnar-engine.js';
export type * from './effects.js';
export { seqRange } from './effects.js';
export { FLAG_BODY_CRC, FLAG_CHECKSUM, FLAG_DELETED, FLAG_MOVED, MessageColumns, NO_CLAIM } from './message-columns.js';
export { MessageIdCodec } from './message-ids.js';
export { type ClaimRecord, QueueState, type SubscriptionRecord } from './queue-state.js';
export { type BodyFreed, type Row, StoreState } from './store-state.js';
