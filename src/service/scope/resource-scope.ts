import type { Claim, Message, QueueMetadata, QueueStats, Subscription } from '../../core/index.js';
import type { MessagePage, PostOptions, QueuePage, SubscriptionPage } from '../../store/contract/index.js';
import type { ResourceKind } from '../namespaces.js';
import type { DeliveryCounts } from '../notify/hooks.js';
import type { PostTerms } from '../reserved-metadata.js';
import { ClaimScope } from './claim-scope.js';
import { type ListMessagesQuery, type MessageDeletion, MessageScope } from './message-scope.js';
import { type ListQueuesQuery, QueueScope } from './queue-scope.js';
import { ScopeContext, type ScopeSettings } from './scope-context.js';
import { type CreatedSubscriptionResult, SubscriptionScope } from './subscription-scope.js';

/**
 * Everything the service does with one kind of queue-like resource — queues, or topics — in the
 * projects of that kind's namespace (see namespaces.ts). Its four parts mirror the controllers of
 * the store's DataDriver and share one context; the methods here are the flat face the
 * transports call (`service.queues.stats(...)`), each the part's own. Methods take a checked
 * project id and a resource name, check everything else they are given, and reach storage only
 * through the resolver. Zaqar's lazy behaviours live in the parts: posting or subscribing
 * creates a missing queue, reading a missing queue's messages, stats or subscriptions gives
 * empty answers.
 */
export class ResourceScope {
  readonly kind: ResourceKind;
  readonly queues: QueueScope;
  readonly messages: MessageScope;
  readonly claims: ClaimScope;
  readonly subscriptions: SubscriptionScope;
  private readonly context: ScopeContext;

  constructor(kind: ResourceKind, settings: ScopeSettings) {
    this.kind = kind;
    this.context = new ScopeContext(kind, settings);
    this.queues = new QueueScope(this.context);
    this.messages = new MessageScope(this.context);
    this.claims = new ClaimScope(this.context);
    this.subscriptions = new SubscriptionScope(this.context);
  }

  /** Checks a queue (or topic) name: letters, digits, "_", "-", ".", at most 64 characters. */
  checkName(name: unknown): string {
    return this.context.checkName(name);
  }

  // --- queues -------------------------------------------------------------------------------

  list(project: string, query?: ListQueuesQuery): Promise<QueuePage> {
    return this.queues.list(project, query);
  }

  create(project: string, name: string, metadata: unknown): Promise<boolean> {
    return this.queues.create(project, name, metadata);
  }

  get(project: string, name: string, withDefaults?: boolean): Promise<QueueMetadata> {
    return this.queues.get(project, name, withDefaults);
  }

  patch(project: string, name: string, document: unknown): Promise<QueueMetadata> {
    return this.queues.patch(project, name, document);
  }

  delete(project: string, name: string): Promise<void> {
    return this.queues.delete(project, name);
  }

  stats(project: string, name: string): Promise<QueueStats> {
    return this.queues.stats(project, name);
  }

  purge(project: string, name: string, document: unknown): Promise<void> {
    return this.queues.purge(project, name, document);
  }

  // --- messages -----------------------------------------------------------------------------

  postTerms(project: string, name: string): Promise<PostTerms> {
    return this.messages.postTerms(project, name);
  }

  checkPostSize(project: string, name: string, bytes: number): Promise<void> {
    return this.messages.checkPostSize(project, name, bytes);
  }

  post(project: string, name: string, clientId: string, document: unknown, options?: PostOptions): Promise<string[]> {
    return this.messages.post(project, name, clientId, document, options);
  }

  listMessages(project: string, name: string, clientId: string, query?: ListMessagesQuery): Promise<MessagePage> {
    return this.messages.list(project, name, clientId, query);
  }

  getMessages(project: string, name: string, ids: string[]): Promise<Message[]> {
    return this.messages.bulkGet(project, name, ids);
  }

  getMessage(project: string, name: string, id: string): Promise<Message> {
    return this.messages.get(project, name, id);
  }

  deleteMessages(project: string, name: string, ids: string[], claimIds?: string[]): Promise<MessageDeletion> {
    return this.messages.bulkDelete(project, name, ids, claimIds);
  }

  deleteMessage(project: string, name: string, id: string, claimId?: string, fenced?: boolean): Promise<void> {
    return this.messages.delete(project, name, id, claimId, fenced);
  }

  pop(project: string, name: string, count: number): Promise<Message[]> {
    return this.messages.pop(project, name, count);
  }

  // --- claims -------------------------------------------------------------------------------

  claim(project: string, name: string, document: unknown, limit?: number): Promise<Claim | null> {
    return this.claims.create(project, name, document, limit);
  }

  getClaim(project: string, name: string, claimId: string): Promise<Claim> {
    return this.claims.get(project, name, claimId);
  }

  updateClaim(project: string, name: string, claimId: string, document: unknown): Promise<void> {
    return this.claims.update(project, name, claimId, document);
  }

  releaseClaim(project: string, name: string, claimId: string): Promise<void> {
    return this.claims.delete(project, name, claimId);
  }

  // --- subscriptions ------------------------------------------------------------------------

  listSubscriptions(
    project: string,
    name: string,
    query?: { marker?: string; limit?: number },
  ): Promise<SubscriptionPage> {
    return this.subscriptions.list(project, name, query);
  }

  subscribe(
    project: string,
    name: string,
    document: unknown,
    how?: { confirmed?: boolean },
  ): Promise<CreatedSubscriptionResult> {
    return this.subscriptions.create(project, name, document, how);
  }

  getSubscription(project: string, name: string, id: string): Promise<Subscription> {
    return this.subscriptions.get(project, name, id);
  }

  deliveryCounts(id: string): DeliveryCounts | null {
    return this.subscriptions.deliveryCounts(id);
  }

  updateSubscription(project: string, name: string, id: string, document: unknown): Promise<void> {
    return this.subscriptions.update(project, name, id, document);
  }

  unsubscribe(project: string, name: string, id: string): Promise<void> {
    return this.subscriptions.delete(project, name, id);
  }

  confirmSubscription(project: string, name: string, id: string, document: unknown): Promise<void> {
    return this.subscriptions.confirm(project, name, id, document);
  }
}
