import {
  type Claim,
  type Clock,
  ignoreMissing,
  type Limits,
  type Message,
  QUEUE_NAME_PATTERN,
  type QueueMetadata,
  QueueNotFoundError,
  RESERVED_METADATA,
  ResourceNotFoundError,
  TtlCache,
} from '../../core/index.js';
import type { DataDriver, MessagePage } from '../../store/contract/index.js';
import type { DriverResolver } from '../driver-resolver.js';
import { RequestRefusedError, TITLES } from '../errors.js';
import type { FairShare } from '../fair-share.js';
import { isSealed, MessageCipher } from '../message-cipher.js';
import type { MessageCounters } from '../message-counters.js';
import { type ResourceKind, storeProject } from '../namespaces.js';
import type { NotificationHooks } from '../notify/hooks.js';
import type { QuotaBook, QuotaRequest, QuotaReservation } from '../quota-book.js';
import { type PostTerms, postTerms, reservedDefaults } from '../reserved-metadata.js';

/** What a scope needs from the service around it. */
export interface ScopeSettings {
  resolver: DriverResolver;
  limits: Limits;
  clock: Clock;
  checksums: boolean;
  subscriberTypes: readonly string[];
  /** Subscription notifications (service/notify); none when the service has no notifier. */
  notifier?: NotificationHooks | undefined;
  /** Seals the bodies of queues with `_enable_encrypt_messages` and opens sealed ones; none: no keys. */
  cipher?: MessageCipher | undefined;
  /** Per-project quotas of queues (topics are not counted); none: no quotas. */
  quotas?: QuotaBook | undefined;
  /** Charged for every message posted (fair-share.ts); none: unlimited. */
  fairShare?: FairShare | undefined;
  /** Counts posts, claims and deletes (the server's metrics); none: nothing is counted. */
  counters?: MessageCounters | undefined;
  /** Zaqar's `message_delete_with_claim_id`: a delete by ids must name the claims holding them. */
  messageDeleteWithClaimId?: boolean | undefined;
}

/**
 * How long the post terms of a queue (its size limit and default ttl and delay) are reused
 * before its metadata is read again. Every post needs them; reading them costs as much as a
 * third of a small post. Changes made through this process apply at once (they drop the entry);
 * changes made through another server sharing the store apply within this time.
 */
const POST_TERMS_TTL_MS = 1000;
const POST_TERMS_MAX_ENTRIES = 10_000;

/**
 * What the four parts of a scope (queues, messages, claims, subscriptions) share: the kind of
 * resource and its namespace, the service's settings, the way to a queue's driver, quotas, the
 * cipher, and the post terms every post needs.
 */
export class ScopeContext {
  readonly kind: ResourceKind;
  readonly settings: ScopeSettings;
  readonly limits: Limits;
  readonly resolver: DriverResolver;
  /** The reserved keys GET fills in, with their defaults (reservedDefaults). */
  readonly defaults: ReadonlyArray<readonly [string, unknown]>;
  readonly cipher: MessageCipher;
  readonly quotas: QuotaBook | undefined;
  readonly counters: MessageCounters | undefined;
  private readonly terms: TtlCache<PostTerms>;

  constructor(kind: ResourceKind, settings: ScopeSettings) {
    this.kind = kind;
    this.settings = settings;
    this.limits = settings.limits;
    this.resolver = settings.resolver;
    this.defaults = reservedDefaults(kind, settings.limits);
    // Without keys there is still a cipher: it seals nothing, but names the key of a sealed body it meets.
    this.cipher = settings.cipher ?? new MessageCipher();
    this.quotas = kind === 'queue' ? settings.quotas : undefined;
    this.counters = kind === 'queue' ? settings.counters : undefined;
    this.terms = new TtlCache({ ttlMs: POST_TERMS_TTL_MS, maxEntries: POST_TERMS_MAX_ENTRIES, clock: settings.clock });
  }

  /** Checks a queue (or topic) name: letters, digits, "_", "-", ".", at most 64 characters. */
  checkName(name: unknown): string {
    if (
      typeof name !== 'string' ||
      name.length === 0 ||
      name.length > this.limits.maxQueueNameLength ||
      !QUEUE_NAME_PATTERN.test(name)
    ) {
      throw new RequestRefusedError(
        `${this.kind}_name`,
        `The ${this.kind} name must be 1 to ${this.limits.maxQueueNameLength} characters of letters, digits, "_", "-" and ".".`,
        this.kind === 'queue' ? TITLES.queueIdentification : TITLES.topicIdentification,
      );
    }
    return name;
  }

  /**
   * What posting to the queue allows and defaults to, from its metadata (see POST_TERMS_TTL_MS);
   * not a promise when this process knows them, so a post that finds them pays no wait.
   */
  postTerms(project: string, name: string): PostTerms | Promise<PostTerms> {
    this.checkName(name);
    const key = termsKey(project, name);
    return this.terms.peek(key) ?? this.terms.get(key, () => this.readPostTerms(project, name));
  }

  private async readPostTerms(project: string, name: string): Promise<PostTerms> {
    const driver = await this.driver(project, name);
    const metadata = await ignoreMissing(driver.queues.getMetadata(storeProject(this.kind, project), name), null);
    return postTerms(metadata, this.limits);
  }

  /** Drops what this process keeps of a queue's metadata: its post terms and the notifier's view. */
  metadataChanged(project: string, name: string): void {
    this.terms.delete(termsKey(project, name));
    this.settings.notifier?.forget(this.kind, project, name);
  }

  driver(project: string, name: string): DataDriver | Promise<DataDriver> {
    return this.resolver.forQueue(storeProject(this.kind, project), name);
  }

  /** Room for a write under the project's quotas (QuotaExceededError when there is none); null: none apply. */
  reserve(project: string, request: QuotaRequest): QuotaReservation | null | Promise<QuotaReservation | null> {
    return this.quotas === undefined ? null : this.quotas.reserve(project, request);
  }

  /** The write's answer; its reservation is kept when it succeeds and given back when it fails. */
  async quotaBound<T>(
    reservation: QuotaReservation | null,
    write: Promise<T>,
    storedNothing: () => boolean = () => false,
  ): Promise<T> {
    if (reservation === null) return write;
    const quotas = this.quotas as QuotaBook;
    try {
      const result = await write;
      if (storedNothing()) quotas.release(reservation);
      else quotas.commit(reservation);
      return result;
    } catch (error) {
      quotas.release(reservation);
      throw error;
    }
  }

  /**
   * Refuses `_enable_encrypt_messages: true` when there is no key to seal with: a flag silently
   * ignored would store in plain text what the client asked to keep secret.
   */
  checkEncryptable(metadata: QueueMetadata, refuse: (field: string, text: string) => Error): void {
    const key = RESERVED_METADATA.enableEncryptMessages;
    if (metadata[key] === true && !this.cipher.canSeal) {
      throw refuse(key, `${key} needs encryption at rest, and this server has no [encryption] key configured.`);
    }
  }

  openOne(name: string, message: Message): Message {
    if (!isSealed(message.body)) return message;
    return { ...message, body: this.cipher.open(message.body, name, message.id) };
  }

  opened(name: string, messages: Message[]): Message[] {
    return messages.map((m) => this.openOne(name, m));
  }

  async openPage(name: string, page: Promise<MessagePage>): Promise<MessagePage> {
    const got = await page;
    return { ...got, messages: this.opened(name, got.messages) };
  }

  openClaim(name: string, claim: Claim): Claim {
    return { ...claim, messages: this.opened(name, claim.messages) };
  }

  /**
   * Passes errors through, but says "topic" for a missing topic: the store only knows queues,
   * and its error would name the namespaced project. Queues pass the operation as it is.
   */
  translate<T>(name: string, operation: Promise<T>): Promise<T> {
    if (this.kind === 'queue') return operation;
    return operation.catch((error: unknown) => {
      if (error instanceof QueueNotFoundError) throw new ResourceNotFoundError('topic', name, { cause: error });
      throw error;
    });
  }
}

function termsKey(project: string, name: string): string {
  return `${project}/${name}`;
}
