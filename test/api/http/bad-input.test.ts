import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { post, snapshot, type TestApi, testApi } from './helpers.js';

/**
 * The list of bad input: each request gets Zaqar's 4xx with its title and a description
 * that says what is wrong — and the store is exactly as it was before.
 */

interface BadRequest {
  what: string;
  method: string;
  url: string;
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string | undefined>;
  status: number;
  title: string;
  description?: RegExp;
}

const LONG_NAME = 'v'.repeat(65);

const CASES: BadRequest[] = [
  // Client-ID
  {
    what: 'no Client-ID',
    method: 'GET',
    url: '/v2/queues',
    headers: { 'client-id': undefined },
    status: 400,
    title: 'Missing header value',
    description: /Client-ID/,
  },
  {
    what: 'empty Client-ID',
    method: 'POST',
    url: '/v2/queues/q/messages',
    body: { messages: [{ body: 1 }] },
    headers: { 'client-id': '' },
    status: 400,
    title: 'Wrong UUID value',
  },
  {
    what: 'Client-ID not a UUID',
    method: 'POST',
    url: '/v2/queues/q/messages',
    body: { messages: [{ body: 1 }] },
    headers: { 'client-id': '0xdeadbeef' },
    status: 400,
    title: 'Wrong UUID value',
    description: /UUID/,
  },
  {
    what: 'Client-ID one digit short',
    method: 'GET',
    url: '/v2/queues/q/messages',
    headers: { 'client-id': '550893e0-2b6e-11e3-835a-5cf9dd72369' },
    status: 400,
    title: 'Wrong UUID value',
  },
  {
    what: 'Client-ID free text',
    method: 'GET',
    url: '/v2/queues/q/messages',
    headers: { 'client-id': 'textid' },
    status: 400,
    title: 'Wrong UUID value',
  },
  // X-Project-ID
  {
    what: 'no project',
    method: 'PUT',
    url: '/v2/queues/q',
    headers: { 'x-project-id': undefined },
    status: 400,
    title: 'Project-Id Missing',
    description: /X-Project-ID/,
  },
  {
    what: 'empty project',
    method: 'PUT',
    url: '/v2/queues/q',
    headers: { 'x-project-id': '' },
    status: 400,
    title: 'Empty project header not allowed',
  },
  {
    what: 'project over 256 characters',
    method: 'PUT',
    url: '/v2/queues/q',
    headers: { 'x-project-id': 'JAM Project'.repeat(24) },
    status: 400,
    title: 'Invalid queue identification',
    description: /256/,
  },
  // names
  {
    what: 'queue name with @',
    method: 'PUT',
    url: '/v2/queues/Nice-Bo@t',
    status: 400,
    title: 'Invalid queue identification',
    description: /letters, digits/,
  },
  {
    what: 'queue name of 65 characters',
    method: 'POST',
    url: `/v2/queues/${LONG_NAME}/messages`,
    body: { messages: [{ body: 1 }] },
    status: 400,
    title: 'Invalid queue identification',
    description: /64/,
  },
  {
    what: 'non-ASCII queue name',
    method: 'PUT',
    url: '/v2/queues/non-ascii-n%C5%93me',
    status: 400,
    title: 'Invalid queue identification',
  },
  {
    what: 'bad name on delete',
    method: 'DELETE',
    url: '/v2/queues/non-ascii-n%C3%84me',
    status: 400,
    title: 'Invalid queue identification',
  },
  {
    what: 'bad name on claims',
    method: 'POST',
    url: '/v2/queues/a%20b/claims',
    body: {},
    status: 400,
    title: 'Invalid queue identification',
  },
  {
    what: 'undecodable URL',
    method: 'GET',
    url: '/v2/queues/%zz/messages',
    status: 400,
    title: 'Invalid API request',
    description: /url/,
  },
  // media types
  {
    what: 'form-encoded body',
    method: 'POST',
    url: '/v2/queues/q/messages',
    body: 'messages=1',
    contentType: 'application/x-www-form-urlencoded',
    status: 400,
    title: 'Invalid Content-Type',
    description: /x-www-form-urlencoded/,
  },
  {
    what: 'client does not accept JSON',
    method: 'GET',
    url: '/v2/queues',
    headers: { accept: 'text/html' },
    status: 406,
    title: 'Media type not acceptable',
  },
  {
    what: 'client refuses JSON with q=0',
    method: 'GET',
    url: '/v2/queues',
    headers: { accept: 'application/json;q=0' },
    status: 406,
    title: 'Media type not acceptable',
  },
  // malformed JSON
  {
    what: 'malformed JSON post',
    method: 'POST',
    url: '/v2/queues/q/messages',
    body: '{"messages": [',
    status: 400,
    title: 'Invalid request body',
    description: /parsed/,
  },
  {
    what: 'malformed JSON metadata',
    method: 'PUT',
    url: '/v2/queues/q',
    body: '{',
    status: 400,
    title: 'Invalid request body',
  },
  {
    what: 'not UTF-8',
    method: 'POST',
    url: '/v2/queues/q/messages',
    body: Buffer.from([0x7b, 0xff, 0x7d]),
    status: 400,
    title: 'Invalid request body',
    description: /UTF-8/,
  },
  // query values
  {
    what: 'limit not a number',
    method: 'GET',
    url: '/v2/queues?limit=ten',
    status: 400,
    title: 'Invalid parameter',
    description: /limit/,
  },
  {
    what: 'negative limit',
    method: 'GET',
    url: '/v2/queues/q/messages?limit=-1',
    status: 400,
    title: 'Invalid API request',
    description: /limit/,
  },
  { what: 'zero limit', method: 'GET', url: '/v2/queues?limit=0', status: 400, title: 'Invalid API request' },
  {
    what: 'huge limit',
    method: 'GET',
    url: '/v2/queues/q/messages?limit=99999999999999999999',
    status: 400,
    title: 'Invalid API request',
  },
  {
    what: 'echo neither true nor false',
    method: 'GET',
    url: '/v2/queues/q/messages?echo=maybe',
    status: 400,
    title: 'Invalid parameter',
    description: /echo/,
  },
  {
    what: 'include_claimed not a boolean',
    method: 'GET',
    url: '/v2/queues/q/messages?include_claimed=2',
    status: 400,
    title: 'Invalid parameter',
  },
  {
    what: 'detailed not a boolean',
    method: 'GET',
    url: '/v2/queues?detailed=yes-please',
    status: 400,
    title: 'Invalid parameter',
  },
  {
    what: 'pop not a number',
    method: 'DELETE',
    url: '/v2/queues/q/messages?pop=all',
    status: 400,
    title: 'Invalid parameter',
  },
  {
    what: 'claim limit too large',
    method: 'POST',
    url: '/v2/queues/q/claims?limit=21',
    body: {},
    status: 400,
    title: 'Invalid API request',
  },
  // ttl, grace, delay
  {
    what: 'negative message ttl',
    method: 'POST',
    url: '/v2/queues/q/messages',
    body: { messages: [{ body: 1, ttl: -1 }] },
    status: 400,
    title: 'Invalid API request',
    description: /TTL/,
  },
  {
    what: 'huge message ttl',
    method: 'POST',
    url: '/v2/queues/q/messages',
    body: { messages: [{ body: 1, ttl: 1e12 }] },
    status: 400,
    title: 'Invalid API request',
  },
  {
    what: 'negative delay',
    method: 'POST',
    url: '/v2/queues/q/messages',
    body: { messages: [{ body: 1, delay: -5 }] },
    status: 400,
    title: 'Invalid API request',
    description: /delay/,
  },
  {
    what: 'huge delay',
    method: 'POST',
    url: '/v2/queues/q/messages',
    body: { messages: [{ body: 1, delay: 86400 }] },
    status: 400,
    title: 'Invalid API request',
  },
  {
    what: 'negative claim ttl',
    method: 'POST',
    url: '/v2/queues/q/claims',
    body: { ttl: -1, grace: 60 },
    status: 400,
    title: 'Invalid API request',
  },
  {
    what: 'huge claim grace',
    method: 'POST',
    url: '/v2/queues/q/claims',
    body: { ttl: 60, grace: 1e9 },
    status: 400,
    title: 'Invalid API request',
    description: /grace/,
  },
  {
    what: 'subscription ttl too short',
    method: 'POST',
    url: '/v2/queues/q/subscriptions',
    body: { subscriber: 'http://x.example', ttl: 1 },
    status: 400,
    title: 'Invalid API request',
  },
  // sizes
  {
    what: 'post over 256 KiB',
    method: 'POST',
    url: '/v2/queues/q/messages',
    body: { messages: [{ body: 'x'.repeat(262144) }] },
    status: 400,
    title: 'Invalid API request',
    description: /too large/,
  },
];

describe("http: bad input is refused with Zaqar's 4xx and changes nothing", () => {
  let api: TestApi;
  let before_: Awaited<ReturnType<typeof snapshot>>;
  before(async () => {
    api = testApi();
    await api.call('PUT', '/v2/queues/q', { body: { kept: true } });
    await post(api, 'q', 3);
    await api.call('POST', '/v2/queues/q/claims?limit=1', { body: { ttl: 60, grace: 60 } });
    await api.call('POST', '/v2/queues/q/subscriptions', { body: { subscriber: 'http://hook.example' } });
    before_ = await snapshot(api.driver);
  });
  after(() => api.close());

  for (const c of CASES) {
    it(c.what, async () => {
      const answer = await api.call(c.method, c.url, {
        ...(c.body !== undefined ? { body: c.body } : {}),
        ...(c.contentType ? { contentType: c.contentType } : {}),
        ...(c.headers ? { headers: c.headers } : {}),
      });
      assert.equal(answer.status, c.status, answer.text);
      assert.deepEqual(Object.keys(answer.json), ['title', 'description']);
      assert.equal(answer.json.title, c.title);
      assert.ok(answer.json.description.length > 10, 'a description that says something');
      if (c.description) assert.match(answer.json.description, c.description);
      assert.deepEqual(await snapshot(api.driver), before_, 'the store is unchanged');
    });
  }
});
