import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { routeAction } from '../../../src/api/http/route-access.js';
import { WS_ACTIONS } from '../../../src/api/ws/ws-access.js';
import { ForbiddenError } from '../../../src/core/index.js';
import { AccessPolicy, type Identity, levelOf, type PolicyAction } from '../../../src/service/index.js';

const as = (...roles: string[]): Identity => ({ project: 'p', user: null, roles, expiresAt: null, strategy: 'token' });

describe('service/auth: policy', () => {
  it("follows Zaqar's defaults: reader reads, member writes, admin administers", () => {
    const policy = new AccessPolicy();
    const cases: [PolicyAction, string, boolean][] = [
      ['queues:get_all', 'reader', true],
      ['messages:get', 'reader', true],
      ['subscription:get_all', 'reader', true],
      ['messages:create', 'reader', false],
      ['queues:purge', 'reader', false],
      ['messages:create', 'member', true],
      ['queues:share', 'member', true],
      ['claims:create', 'member', true],
      ['pools:get_all', 'member', false],
      ['health:get', 'member', false],
      ['moves:create', 'member', false],
      ['pools:create', 'admin', true],
      ['health:get', 'admin', true],
      ['ping:get', 'reader', true],
      ['queues:get', 'someone', false],
    ];
    for (const [action, role, allowed] of cases) {
      if (allowed) policy.check(as(role), action);
      else assert.throws(() => policy.check(as(role), action), ForbiddenError, `${role} ${action}`);
    }
  });

  it('takes role names from [policy]', () => {
    const policy = new AccessPolicy({ reader: ['viewer'], member: ['writer'], admin: ['operator'] });
    policy.check(as('writer'), 'messages:create');
    assert.throws(() => policy.check(as('member'), 'messages:create'), ForbiddenError);
    assert.equal(policy.isAdmin(as('operator')), true);
    assert.equal(policy.isAdmin(as('admin')), false);
  });

  it('every HTTP route and WebSocket action of a project has a policy level', () => {
    for (const action of Object.values(WS_ACTIONS)) assert.ok(levelOf(action));
    assert.equal(routeAction('POST', '/v2/topics/:name/messages'), 'messages:create');
    assert.equal(routeAction('GET', '/v2/topics'), 'topics:get_all');
    assert.equal(routeAction('GET', '/v1.1/queues/:name/stats'), 'queues:stats');
    assert.equal(routeAction('GET', '/healthz'), undefined);
  });
});
