"""Drives a Posthorn server through python-zaqarclient, OpenStack's own Zaqar client.

Usage: python3 zaqar_client_check.py <base-url>

Every step checks what the client got back; the first wrong answer raises and the script exits
non-zero with the step's name, so the node:test wrapper (zaqarclient.test.ts) fails. Each step
prints one line, so a failure shows how far the client got.
"""

import sys
import traceback

from zaqarclient.queues.v2 import client as zaqar
from zaqarclient.queues.v2 import core
from zaqarclient.transport import errors

URL = sys.argv[1]
PROJECT = 'interop-project'
QUEUE = 'interop-queue'


def new_client(project=PROJECT, backend='noauth', options=None):
    opts = {'os_project_id': project}
    opts.update(options or {})
    return zaqar.Client(URL, version=2, conf={'auth_opts': {'backend': backend, 'options': opts}})


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def expect_error(error_class, action, what):
    try:
        action()
    except error_class:
        return
    except Exception as other:  # noqa: BLE001 - any other error is the wrong answer too
        raise AssertionError('%s: expected %s, got %r' % (what, error_class.__name__, other))
    raise AssertionError('%s: expected %s, got no error' % (what, error_class.__name__))


STEPS = []


def step(fn):
    STEPS.append(fn)
    return fn


cli = new_client()
other = new_client()  # another Client-ID in the same project
state = {}


@step
def ping_health_home():
    check(cli.ping() is True, 'ping answers')
    health = cli.health()
    check(health.get('storage_reachable') is True, 'health reports reachable storage: %r' % health)
    check(all(op['succeeded'] for op in health['operation_status'].values()), 'health operations succeed')
    home = cli.homedoc()
    check('rel/queues' in home['resources'], 'home document lists queues')


@step
def create_and_list_queues():
    q = cli.queue(QUEUE, force_create=True)
    cli.queue('interop-other', force_create=True)
    queues, count = cli.queues(with_count=True, limit=20)
    names = [x.name for x in queues]
    check(QUEUE in names and 'interop-other' in names, 'both queues listed: %r' % names)
    check(count == 2, 'with_count counts 2 queues: %r' % count)
    page, _ = cli.queues(limit=1)
    check(len(list(page)) == 1, 'limit=1 gives one queue')
    # Another project sees none of them.
    theirs, _ = new_client(project='someone-else').queues()
    check(list(theirs) == [], 'projects are separate')
    state['q'] = q


@step
def metadata():
    q = state['q']
    meta = q.metadata(force_reload=True)
    check(meta.get('_default_message_ttl') == 3600, 'reserved default ttl shown: %r' % meta)
    check(meta.get('_max_messages_post_size') == 262144, 'reserved default post size shown')
    # The v2 client turns this into a JSON-patch PATCH (add, replace and remove operations).
    q.metadata(new_meta={'color': 'blue', '_default_message_ttl': 600})
    meta = q.metadata(force_reload=True)
    check(meta.get('color') == 'blue', 'metadata key added: %r' % meta)
    check(meta.get('_default_message_ttl') == 600, 'reserved key replaced: %r' % meta)
    q.metadata(new_meta={'size': 3})
    meta = q.metadata(force_reload=True)
    check('color' not in meta and meta.get('size') == 3, 'keys not given are removed: %r' % meta)
    check(meta.get('_default_message_ttl') == 3600, 'removed reserved key back to default: %r' % meta)


@step
def post_list_get_messages():
    q = state['q']
    result = q.post([{'body': {'n': i}, 'ttl': 300} for i in range(6)])
    ids = [href.rsplit('/', 1)[-1] for href in result['resources']]
    check(len(ids) == 6, 'six ids back')
    listed = list(q.messages(echo=True, limit=20))
    check([m.body for m in listed] == [{'n': i} for i in range(6)], 'FIFO listing with echo')
    check(list(q.messages()) == [], 'a client does not hear its own messages without echo')
    theirs = list(other.queue(QUEUE).messages(limit=20))
    check(len(theirs) == 6, 'another client hears them: %d' % len(theirs))
    one = q.message(ids[0])
    check(one.body == {'n': 0} and one.ttl == 300, 'get one message')
    some = list(q.messages(ids[1], ids[2]))
    check(sorted(m.id for m in some) == sorted(ids[1:3]), 'get messages by ids')
    # A paged walk follows the server's next links and sees every message once.
    walked = [m.id for m in q.messages(echo=True, limit=4).stream()]
    check(walked == ids, 'paging with next links returns every message once: %r' % walked)
    expect_error(errors.ResourceNotFound, lambda: q.message('0' * 32), 'missing message is 404')
    expect_error(errors.MalformedRequest, lambda: q.post([{'body': 1, 'ttl': 5}]), 'ttl below 60 is 400')
    state['ids'] = ids


@step
def stats():
    s = state['q'].stats['messages']
    check(s['total'] == 6 and s['free'] == 6 and s['claimed'] == 0, 'stats count: %r' % s)
    check(s['oldest']['href'].endswith(state['ids'][0]), 'oldest is the first posted')
    check(s['newest']['href'].endswith(state['ids'][-1]), 'newest is the last posted')
    empty = cli.queue('never-made').stats['messages']
    check(empty['total'] == 0, 'stats of a missing queue are zeros')


@step
def claims():
    q = state['q']
    claim = q.claim(ttl=60, grace=60, limit=2)
    held = list(claim)
    check(len(held) == 2 and claim.id, 'claimed two messages')
    check([m.id for m in held] == state['ids'][:2], 'claims take the oldest first')
    check(q.stats['messages']['claimed'] == 2, 'stats see the claim')
    second = q.claim(ttl=60, grace=60, limit=10)
    check(len(list(second)) == 4, 'a second claim takes only the free ones')
    claim.update(ttl=120, grace=60)
    again = q.claim(id=claim.id)
    check(again.ttl == 120, 'renewed claim has its new ttl: %r' % again.ttl)
    req, trans = cli._request_and_transport()
    expect_error(errors.ForbiddenError,
                 lambda: core.message_delete(trans, req, QUEUE, held[0].id),
                 'deleting a claimed message without its claim is 403')
    held[0].delete()  # the href carries the claim id
    expect_error(errors.ResourceNotFound, lambda: q.message(held[0].id), 'deleted with its claim')
    claim.delete()
    second.delete()
    check(q.stats['messages']['claimed'] == 0, 'released claims hold nothing')
    req, trans = cli._request_and_transport()
    expect_error(errors.MalformedRequest,
                 lambda: core.message_delete(trans, req, QUEUE, held[1].id, claim_id=claim.id),
                 'deleting with a released claim is 400')
    empty = cli.queue('never-made').claim(ttl=60, grace=60)
    check(empty.id is None and list(empty) == [], 'nothing to claim is an empty claim')


@step
def pop_and_bulk_delete():
    q = state['q']
    popped = list(q.pop(count=2))
    check(len(popped) == 2, 'popped two')
    left = [m.id for m in q.messages(echo=True, limit=20)]
    check(len(left) == 3, 'three left after pop: %r' % left)
    q.delete_messages(*left)
    check(q.stats['messages']['total'] == 0, 'bulk delete emptied the queue')


@step
def subscriptions():
    sub = cli.subscription(QUEUE, subscriber='http://example.com/hook', ttl=3600, options={'a': 1})
    check(sub.id, 'subscription created')
    check(sub.subscriber == 'http://example.com/hook' and sub.options == {'a': 1}, 'subscription read back')
    again = cli.subscription(QUEUE, subscriber='http://example.com/hook', ttl=3600)
    check(again.id == sub.id, 'subscribing again (unconfirmed) gives the same id')
    listed = list(cli.subscriptions(QUEUE))
    check([s.id for s in listed] == [sub.id], 'subscription listed')
    sub.update({'ttl': 7200, 'options': {'b': 2}})
    fresh = cli.subscription(QUEUE, id=sub.id)
    check(fresh.ttl == 7200 and fresh.options == {'b': 2}, 'subscription updated: %r' % fresh.ttl)
    lazy = cli.subscription('made-by-subscribing', subscriber='mailto:ops@example.com')
    check(lazy.id, 'subscribing creates a missing queue')
    sub.delete()
    expect_error(errors.ResourceNotFound, lambda: cli.subscription(QUEUE, id=sub.id), 'deleted subscription is 404')
    expect_error(errors.MalformedRequest,
                 lambda: cli.subscription(QUEUE, subscriber='ftp://nope'),
                 'unsupported subscriber scheme is 400')


@step
def signed_urls():
    q = state['q']
    q.post([{'body': 'shared', 'ttl': 300}])
    signed = q.signed_url(paths=['messages'], ttl_seconds=600, methods=['GET', 'POST'])
    for key in ('signature', 'expires', 'methods', 'paths', 'project'):
        check(key in signed, 'signed URL has %s' % key)
    check(signed['paths'] == ['/v2/queues/%s/messages' % QUEUE], 'signed paths: %r' % signed['paths'])
    options = {'signature': signed['signature'], 'expires': signed['expires'],
               'methods': signed['methods'], 'paths': signed['paths'], 'os_project_id': signed['project']}
    holder = new_client(backend='signed-url', options=options)
    shared = holder.queue(QUEUE)
    check([m.body for m in shared.messages(limit=20)] == ['shared'], 'signed GET lists the messages')
    shared.post([{'body': 'via signature', 'ttl': 300}])
    bad = dict(options, signature='0' * 64)
    expect_error(errors.ResourceNotFound,
                 lambda: list(new_client(backend='signed-url', options=bad).queue(QUEUE).messages()),
                 'a wrong signature is 404')
    expect_error(errors.ResourceNotFound,
                 lambda: holder.queue(QUEUE).stats,
                 'a path not signed is 404')


@step
def purge_and_delete():
    q = state['q']
    q.post([{'body': i, 'ttl': 300} for i in range(3)])
    held = q.claim(ttl=60, grace=60, limit=1)
    check(len(list(held)) == 1, 'one claimed before purge')
    cli.subscription(QUEUE, subscriber='https://example.com/purged')
    q.purge(resource_types=['messages'])
    check(q.stats['messages']['total'] == 0, 'purge removed every message, claimed ones too')
    check(len(list(cli.subscriptions(QUEUE))) == 1, 'purging messages kept subscriptions')
    q.purge()
    check(list(cli.subscriptions(QUEUE)) == [], 'purge without types removed subscriptions')
    q.delete()
    cli.queue('interop-other').delete()
    cli.queue('made-by-subscribing').delete()
    names = [x.name for x in cli.queues()[0]]
    check(names == [], 'queues deleted: %r' % names)


def main():
    for fn in STEPS:
        try:
            fn()
        except Exception:  # noqa: BLE001 - report which step failed, then fail
            print('FAIL %s' % fn.__name__)
            traceback.print_exc()
            return 1
        print('ok %s' % fn.__name__)
    print('all %d steps passed' % len(STEPS))
    return 0


if __name__ == '__main__':
    sys.exit(main())
