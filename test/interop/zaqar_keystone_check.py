"""Drives Posthorn under auth_strategy keystone through python-zaqarclient's keystone backend.

Usage: python3 zaqar_keystone_check.py  (credentials from the OS_* variables of two users:
OS_USERNAME/OS_PASSWORD for a member, READER_USERNAME/READER_PASSWORD for a reader of the same
project; OS_AUTH_URL, OS_PROJECT_NAME and the domains are shared)

The client is given no URL: it finds Posthorn in keystone's catalog (service type "messaging",
public interface) and sends the token it got from keystone, as a deployed client does. Each step
prints one line; the first wrong answer raises and the script exits non-zero with the step's name,
so the node:test wrapper (test/service/auth/keystone.test.ts) fails.
"""

import os
import sys
import traceback

from zaqarclient.queues.v2 import client as zaqar
from zaqarclient.transport import errors

QUEUE = 'zaqarclient-keystone'


def new_client(username, password):
    options = {
        'os_auth_url': os.environ['OS_AUTH_URL'],
        'os_username': username,
        'os_password': password,
        'os_project_name': os.environ['OS_PROJECT_NAME'],
        'os_user_domain_name': os.environ['OS_USER_DOMAIN_NAME'],
        'os_project_domain_name': os.environ['OS_PROJECT_DOMAIN_NAME'],
    }
    return zaqar.Client(None, version=2, conf={'auth_opts': {'backend': 'keystone', 'options': options}})


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def main():
    member = new_client(os.environ['OS_USERNAME'], os.environ['OS_PASSWORD'])
    reader = new_client(os.environ['READER_USERNAME'], os.environ['READER_PASSWORD'])
    steps = 0

    queue = member.queue(QUEUE)
    queue.ensure_exists(force_create=True)
    check(QUEUE in [q.name for q in member.queues()[0]], 'the member lists the queue it made')
    print('ok: member creates and lists the queue (endpoint from the catalog)')
    steps += 1

    queue.post([{'body': {'n': 1}, 'ttl': 300}, {'body': {'n': 2}, 'ttl': 300}])
    bodies = [m.body for m in queue.messages(echo=True)]
    check(bodies == [{'n': 1}, {'n': 2}], 'the member reads back what it posted: %r' % bodies)
    print('ok: member posts and lists messages')
    steps += 1

    claim = queue.claim(ttl=120, grace=60, limit=1)
    claimed = list(claim)
    check(len(claimed) == 1 and claimed[0].body == {'n': 1}, 'the claim holds the oldest message')
    claimed[0].delete()
    check(queue.stats['messages']['total'] == 1, 'the claimed message was deleted')
    print('ok: member claims and deletes a message')
    steps += 1

    read = [m.body for m in reader.queue(QUEUE).messages(echo=True)]
    check(read == [{'n': 2}], 'the reader reads the project\'s messages: %r' % read)
    print('ok: reader lists messages')
    steps += 1

    try:
        reader.queue(QUEUE).post([{'body': 'no', 'ttl': 300}])
    except errors.ForbiddenError:
        pass
    else:
        raise AssertionError('a reader posted a message')
    check(queue.stats['messages']['total'] == 1, 'the refused post wrote nothing')
    print('ok: reader may not post (403, nothing written)')
    steps += 1

    queue.delete()
    check(QUEUE not in [q.name for q in member.queues()[0]], 'the queue is gone')
    print('ok: member deletes the queue')
    steps += 1
    print('all %d steps passed' % steps)


if __name__ == '__main__':
    try:
        main()
    except Exception:  # noqa: BLE001 - report any failure as the step that broke
        traceback.print_exc()
        sys.exit(1)
