/**
 * `GET /` (the versions served) and `GET /v2/` (a JSON-Home document: one `rel/...` entry per
 * resource, with its URI template and allowed methods, under the relation names Zaqar uses).
 */

export interface ApiVersion {
  prefix: '/v2' | '/v1.1';
  id: string;
  status: 'CURRENT' | 'DEPRECATED';
  updated: string;
  mediaType: string;
  /** Resources served under this version besides queues, messages and claims. */
  subscriptions: boolean;
  topics: boolean;
  /** PATCH of queue metadata, purge and share came with v2. */
  v2Queues: boolean;
}

export const V2: ApiVersion = {
  prefix: '/v2',
  id: '2',
  status: 'CURRENT',
  updated: '2014-9-24T04:06:47Z',
  mediaType: 'application/vnd.openstack.messaging-v2+json',
  subscriptions: true,
  topics: true,
  v2Queues: true,
};

export const V1_1: ApiVersion = {
  prefix: '/v1.1',
  id: '1.1',
  status: 'DEPRECATED',
  updated: '2014-9-24T04:06:47Z',
  mediaType: 'application/vnd.openstack.messaging-v1_1+json',
  subscriptions: false,
  topics: false,
  v2Queues: false,
};

/** GET / — answered with 300 Multiple Choices, as Zaqar does. */
export function versionsDocument(versions: readonly ApiVersion[]): string {
  return JSON.stringify({
    versions: versions.map((v) => ({
      id: v.id,
      status: v.status,
      updated: v.updated,
      'media-types': [{ base: 'application/json', type: v.mediaType }],
      links: [{ href: `${v.prefix}/`, rel: 'self' }],
    })),
  });
}

type Vars = Record<string, string>;

function entry(template: string, vars: Vars, allow: string[], accepts = false): Record<string, unknown> {
  return {
    'href-template': template,
    'href-vars': vars,
    hints: {
      allow,
      formats: { 'application/json': {} },
      ...(accepts ? { 'accept-post': ['application/json'] } : {}),
    },
  };
}

/** The JSON-Home document of one version. */
export function homeDocument(version: ApiVersion): string {
  const p = version.prefix;
  const q = { queue_name: 'param/queue_name' };
  const resources: Record<string, unknown> = {
    'rel/queues': entry(
      `${p}/queues{?marker,limit,detailed}`,
      { marker: 'param/marker', limit: 'param/queue_limit', detailed: 'param/detailed' },
      ['GET'],
    ),
    'rel/queue': entry(
      `${p}/queues/{queue_name}`,
      q,
      version.v2Queues ? ['GET', 'PUT', 'DELETE', 'PATCH'] : ['GET', 'PUT', 'DELETE'],
    ),
    'rel/queue_stats': entry(`${p}/queues/{queue_name}/stats`, q, ['GET']),
    'rel/messages': entry(
      `${p}/queues/{queue_name}/messages{?marker,limit,echo,include_claimed,include_delayed}`,
      {
        ...q,
        marker: 'param/marker',
        limit: 'param/messages_limit',
        echo: 'param/echo',
        include_claimed: 'param/include_claimed',
        include_delayed: 'param/include_delayed',
      },
      ['GET'],
    ),
    'rel/post_messages': entry(`${p}/queues/{queue_name}/messages`, q, ['POST'], true),
    'rel/messages_delete': entry(
      `${p}/queues/{queue_name}/messages{?ids,pop}`,
      { ...q, ids: 'param/ids', pop: 'param/pop' },
      ['DELETE'],
    ),
    'rel/message_get': entry(
      `${p}/queues/{queue_name}/messages/{message_id}`,
      { ...q, message_id: 'param/message_id' },
      ['GET'],
    ),
    'rel/message_delete': entry(
      `${p}/queues/{queue_name}/messages/{message_id}{?claim}`,
      { ...q, message_id: 'param/message_id', claim: 'param/claim_id' },
      ['DELETE'],
    ),
    'rel/post_claim': entry(
      `${p}/queues/{queue_name}/claims{?limit}`,
      { ...q, limit: 'param/claim_limit' },
      ['POST'],
      true,
    ),
    'rel/claim': entry(`${p}/queues/{queue_name}/claims/{claim_id}`, { ...q, claim_id: 'param/claim_id' }, ['GET']),
    'rel/patch_claim': entry(
      `${p}/queues/{queue_name}/claims/{claim_id}`,
      { ...q, claim_id: 'param/claim_id' },
      ['PATCH'],
      true,
    ),
    'rel/delete_claim': entry(`${p}/queues/{queue_name}/claims/{claim_id}`, { ...q, claim_id: 'param/claim_id' }, [
      'DELETE',
    ]),
    'rel/ping': {
      'href-template': `${p}/ping`,
      hints: { allow: ['GET', 'HEAD'], formats: { 'application/json': {} } },
    },
    'rel/health': { href: `${p}/health`, hints: { allow: ['GET'], formats: { 'application/json': {} } } },
  };
  if (version.v2Queues) {
    resources['rel/queue_share'] = entry(`${p}/queues/{queue_name}/share`, q, ['POST'], true);
    resources['rel/queue_purge'] = entry(`${p}/queues/{queue_name}/purge`, q, ['POST'], true);
  }
  if (version.subscriptions) {
    const s = { ...q, subscriptions_id: 'param/subscriptions_id' };
    resources['rel/subscriptions_get'] = entry(
      `${p}/queues/{queue_name}/subscriptions{?marker,limit}`,
      { ...q, marker: 'param/marker', limit: 'param/subscription_limit' },
      ['GET'],
    );
    resources['rel/subscriptions_post'] = entry(`${p}/queues/{queue_name}/subscriptions`, q, ['POST'], true);
    resources['rel/subscription'] = entry(`${p}/queues/{queue_name}/subscriptions/{subscriptions_id}`, s, [
      'GET',
      'DELETE',
    ]);
    resources['rel/subscription_patch'] = entry(
      `${p}/queues/{queue_name}/subscriptions/{subscriptions_id}`,
      s,
      ['PATCH'],
      true,
    );
    resources['rel/subscription_confirm'] = entry(
      `${p}/queues/{queue_name}/subscriptions/{subscriptions_id}/confirm`,
      s,
      ['PUT'],
      true,
    );
  }
  if (version.topics) {
    const t = { topic_name: 'param/topic_name' };
    resources['rel/topics'] = entry(
      `${p}/topics{?marker,limit,detailed}`,
      { marker: 'param/marker', limit: 'param/topic_limit', detailed: 'param/detailed' },
      ['GET'],
    );
    resources['rel/topic'] = entry(`${p}/topics/{topic_name}`, t, ['GET', 'PUT', 'DELETE', 'PATCH']);
    resources['rel/topic_stats'] = entry(`${p}/topics/{topic_name}/stats`, t, ['GET']);
    resources['rel/topic_purge'] = entry(`${p}/topics/{topic_name}/purge`, t, ['POST'], true);
    resources['rel/topic_messages'] = entry(`${p}/topics/{topic_name}/messages`, t, ['GET', 'POST', 'DELETE'], true);
    resources['rel/topic_subscriptions'] = entry(`${p}/topics/{topic_name}/subscriptions`, t, ['GET', 'POST'], true);
  }
  return JSON.stringify({ resources }, null, 4);
}
