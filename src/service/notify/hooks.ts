import type { NewMessage, Subscription } from '../../core/index.js';
import type { ResourceKind } from '../namespaces.js';

/** Per subscription: notifications delivered, waiting in the spool (first try or retry), and failed for good. */
export interface DeliveryCounts {
  delivered: number;
  pending: number;
  failed: number;
}

/**
 * What the queue service tells the notifier. The service knows nothing of spools or webhooks; it
 * calls these at the points where Zaqar's notifier and subscription resources act.
 */
export interface NotificationHooks {
  /** Subscribers hear nothing but their confirmation request until they confirm. */
  readonly requireConfirmation: boolean;
  /** Most subscriptions a queue may have (0: no limit). */
  readonly maxSubscriptionsPerQueue: number;
  /**
   * Messages were stored. Returns undefined, without any I/O, when the queue is known to have no
   * subscriptions (the common case, on every post's path); otherwise a promise that resolves once
   * every notification is durably in the spool.
   */
  posted(
    kind: ResourceKind,
    project: string,
    queue: string,
    messages: readonly NewMessage[],
  ): Promise<void> | undefined;
  /** The queue's subscriptions or its retry policy changed through this process: read them again. */
  forget(kind: ResourceKind, project: string, queue: string): void;
  /** A subscription was made, or made again while unconfirmed: send its confirmation request if required. */
  subscribed(kind: ResourceKind, project: string, queue: string, subscription: Subscription): Promise<void>;
  /** A subscription was confirmed false: send the unsubscribe notice if confirmation is required. */
  unconfirmed(kind: ResourceKind, project: string, queue: string, subscription: Subscription): Promise<void>;
  /**
   * A subscriber is about to be stored (made or changed by a client): throws (a 400) when
   * notifications may not go there. Optional: hooks without a destination policy accept any.
   */
  checkSubscriber?(subscriber: string): Promise<void>;
  /** A subscription was deleted: drop its counts. */
  removed(subscriptionId: string): void;
  counts(subscriptionId: string): DeliveryCounts;
}
