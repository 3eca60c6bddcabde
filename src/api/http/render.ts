import type { Claim, Message, QueueStats, Subscription } from '../../core/index.js';
import { isoSeconds, type MessageDeletion, type QueuePage, type SignedUrl } from '../../service/index.js';

/**
 * The JSON documents of Zaqar's answers, written as strings. Messages are on the hot path (every
 * claim returns up to 20 of them), so they are concatenated by hand: only bodies need
 * JSON.stringify, ids and names are checked to be plain and written as they are.
 */

const PLAIN = /^[\w.~-]*$/;

/** A JSON string literal; plain ids and names (the common case) skip the escaper. */
export function jsonString(text: string): string {
  return PLAIN.test(text) ? `"${text}"` : JSON.stringify(text);
}

/** A path segment: ids made by a store are plain; anything else is percent-encoded. */
function segment(text: string): string {
  return PLAIN.test(text) ? text : encodeURIComponent(text);
}

/** `{"id","href","ttl","age","body"[,"checksum"]}`; the href names the claim holding it, if any. */
export function messageJson(m: Message, base: string): string {
  const claim = m.claimId === null ? '' : `?claim_id=${segment(m.claimId)}`;
  let out = `{"id":${jsonString(m.id)},"href":"${base}/messages/${segment(m.id)}${claim}","ttl":${m.ttl},"age":${m.age},"body":${JSON.stringify(m.body) ?? 'null'}`;
  if (m.checksum !== undefined && m.checksum !== '') out += `,"checksum":${JSON.stringify(m.checksum)}`;
  return `${out}}`;
}

export function messagesJson(messages: readonly Message[], base: string): string {
  let out = '[';
  for (let i = 0; i < messages.length; i++) {
    if (i > 0) out += ',';
    out += messageJson(messages[i] as Message, base);
  }
  return `${out}]`;
}

/** A popped message: it is gone, so it has no href; its claim count says how often it was claimed. */
export function poppedJson(messages: readonly Message[]): string {
  return JSON.stringify({
    messages: messages.map((m) => ({
      id: m.id,
      age: m.age,
      ttl: m.ttl,
      body: m.body,
      claim_count: m.claimCount,
      claim_id: null,
      ...(m.checksum ? { checksum: m.checksum } : {}),
    })),
  });
}

/** The answer of a `fenced=true` delete by ids (a Posthorn extension: Zaqar answers 204). */
export function deletionJson(deletion: MessageDeletion): string {
  return JSON.stringify({ deleted: deletion.deleted, not_deleted: deletion.notDeleted });
}

export function resourcesJson(ids: readonly string[], base: string): string {
  let out = '{"resources":[';
  for (let i = 0; i < ids.length; i++) {
    if (i > 0) out += ',';
    out += `"${base}/messages/${segment(ids[i] as string)}"`;
  }
  return `${out}]}`;
}

export function linksJson(next: string | null): string {
  return next === null ? '[]' : `[{"rel":"next","href":${JSON.stringify(next)}}]`;
}

/** GET .../claims/{id}: `{"age","ttl","href","messages"}`. */
export function claimJson(claim: Claim, base: string, href: string): string {
  return `{"age":${claim.age},"ttl":${claim.ttl},"href":${JSON.stringify(href)},"messages":${messagesJson(claim.messages, base)}}`;
}

export function subscriptionObject(s: Subscription): Record<string, unknown> {
  return {
    id: s.id,
    subscriber: s.subscriber,
    source: s.source,
    ttl: s.ttl,
    age: s.age,
    options: s.options,
    confirmed: s.confirmed,
  };
}

export function queueListJson(
  page: QueuePage,
  collectionPath: string,
  listKey: 'queues' | 'topics',
  next: string | null,
): string {
  const items = page.queues.map((q) =>
    q.metadata === undefined
      ? { name: q.name, href: `${collectionPath}/${q.name}` }
      : { name: q.name, href: `${collectionPath}/${q.name}`, metadata: q.metadata },
  );
  const body: Record<string, unknown> = { [listKey]: items, links: next === null ? [] : [{ rel: 'next', href: next }] };
  if (page.count) body.count = page.count;
  return JSON.stringify(body);
}

/** `{"messages": {"claimed","free","total"[,"oldest","newest"]}}` with hrefs for oldest and newest. */
export function statsJson(stats: QueueStats, base: string): string {
  const messages: Record<string, unknown> = { claimed: stats.claimed, free: stats.free, total: stats.total };
  if (stats.total > 0 && stats.oldest && stats.newest) {
    messages.oldest = {
      age: stats.oldest.age,
      created: isoSeconds(stats.oldest.createdAt),
      href: `${base}/messages/${segment(stats.oldest.id)}`,
    };
    messages.newest = {
      age: stats.newest.age,
      created: isoSeconds(stats.newest.createdAt),
      href: `${base}/messages/${segment(stats.newest.id)}`,
    };
  }
  return JSON.stringify({ messages });
}

export function signedUrlJson(url: SignedUrl): string {
  return JSON.stringify({
    project: url.project,
    paths: url.paths,
    methods: url.methods,
    expires: url.expires,
    signature: url.signature,
  });
}
