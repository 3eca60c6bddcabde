import { type HandleContext, ResourceHandle } from './resource-handle.js';

/**
 * A topic of Zaqar v2 (`/v2/topics/{name}`): like a queue it has metadata, messages, stats, purge
 * and subscriptions, but no claims and no pre-signed URLs — its messages go to its subscribers.
 */
export class TopicHandle extends ResourceHandle {
  constructor(context: HandleContext, name: string) {
    super(context, 'topics', name);
  }
}
