export { DiskStorage } from './disk-storage.js';
export { MessageQueue, type MessageQueueOptions } from './message-queue.js';
