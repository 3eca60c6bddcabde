export { MessageQueue, type MessageQueueOptions } from './message-queue.js';
