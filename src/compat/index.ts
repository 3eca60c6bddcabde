export { DiskStorage, type Envelope } from './disk-storage.js';
export { MessageQueue, type MessageQueueOptions } from './message-queue.js';
