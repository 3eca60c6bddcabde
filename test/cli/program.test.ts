import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { posthorn, posthornProcess } from './run-posthorn.js';

const dir = mkdtempSync(join(tmpdir(), 'posthorn-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const inDir = { cwd: dir };

/** The line of `--help` that describes an option. */
async function helpLine(command: string[], flag: string): Promise<string> {
  const help = await posthorn(inDir, ...command, '--help');
  assert.equal(help.code, 0, help.err);
  // An option's description may wrap onto the next lines; join them.
  const text = help.out.replace(/\n {10,}/g, ' ');
  const line = text.split('\n').find((l) => l.trimStart().startsWith(flag));
  assert.ok(line, `${command.join(' ')} --help lists ${flag}:\n${help.out}`);
  return line.replace(/\s+/g, ' ').trim();
}

/** A stand-in for a server's move API: answers every request with the next of `answers`. */
async function moveServer(answers: { status: number; body: unknown }[]): Promise<{ url: string; server: Server }> {
  let next = 0;
  const server = createServer((request, response) => {
    request.resume();
    const answer = answers[Math.min(next++, answers.length - 1)] as { status: number; body: unknown };
    response.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const doneMove = (copied: number, releasedClaims: number) => ({
  id: 'm1',
  queue: 'mail',
  from: 'red',
  to: 'pg',
  status: 'done',
  step: 'done',
  active: false,
  copied,
  source: { free: 0, claimed: 0, delayed: 0 },
  released_claims: releasedClaims,
  recovered: 0,
  error: null,
});

describe('cli: the posthorn command', () => {
  it('--help shows required options as required, and no others', async () => {
    assert.equal(await helpLine(['queue', 'move'], '--to'), '--to <pool> the pool to move the queue to (required)');
    assert.equal(
      await helpLine(['spool', 'recover'], '--from'),
      '--from <where> where the messages are (choices: "removed", "quarantined") (required)',
    );
    assert.equal(await helpLine(['spool', 'quarantine'], '--reason'), '--reason <text> why (required)');
    assert.equal(
      await helpLine(['spool', 'freeze'], '--reason'),
      '--reason <text> why (default: "frozen by an operator")',
    );
    assert.equal(await helpLine(['spool', 'status'], '--json'), '--json print JSON for scripts');
    const usage = await posthorn(inDir, 'spool', 'freeze', '--help');
    assert.match(
      usage.out,
      /^Usage: posthorn spool freeze \[options\] \(<dir> \| --data <dir> \| --config <file>\) <ids\.\.\.>\n/,
    );
  });

  it('a wrong command line is one line on stderr and exit 2', async () => {
    const cases: [string[], string][] = [
      [['frobnicate'], "posthorn: unknown command 'frobnicate'"],
      [['--bogus'], "posthorn: unknown option '--bogus'"],
      [['queue', 'move', 'demo/mail'], "posthorn queue move: required option '--to <pool>' not specified"],
      [
        ['queue', 'move', 'mail', '--to', 'pg'],
        "posthorn queue move: command-argument value 'mail' is invalid for argument 'project/queue'. name the queue as <project>/<queue>",
      ],
      [
        ['queue', 'move', 'demo/mail', '--to', 'pg', '--claim-wait', 'soon'],
        "posthorn queue move: option '--claim-wait <seconds>' argument 'soon' is invalid. must be seconds, 0 or more",
      ],
      [
        ['notify', 'status', dir, '--data', dir],
        'posthorn notify status: give the notifications folder or --data/--config, not both',
      ],
    ];
    for (const [args, line] of cases) {
      const r = await posthorn(inDir, ...args);
      assert.equal(r.err.split('\n')[0], line, args.join(' '));
      assert.equal(r.code, 2, args.join(' '));
    }
    // A command given no subcommand shows its help, on stderr.
    const bare = await posthorn(inDir, 'spool');
    assert.equal(bare.code, 2);
    assert.match(bare.err, /^Usage: posthorn spool \[options\] \[command\]/);
    assert.equal((await posthorn(inDir, '--version')).code, 0);
  });

  it('a bad configuration names the setting and the file, and with --json says it in JSON on stderr', async () => {
    const configs = mkdtempSync(join(dir, 'configs-'));
    writeFileSync(join(configs, 'bad.toml'), 'prot = 8888\n');
    writeFileSync(join(configs, 'typed.toml'), '[limits]\nmax_messages_per_page = "twenty"\n');
    writeFileSync(join(configs, 'broken.toml'), '[notification\n');
    const at = { cwd: configs };
    const text = await posthorn(at, 'notify', 'status', '--config', 'bad.toml');
    assert.equal(text.err, "posthorn notify status: unknown setting 'prot' in bad.toml\n");
    assert.equal(text.code, 1);
    assert.equal(text.out, '');
    const json = await posthorn(at, 'notify', 'status', '--config', 'typed.toml', '--json');
    assert.deepEqual(JSON.parse(json.err), {
      error: {
        code: 'PH_INVALID_ARGUMENT',
        message:
          'setting \'limits.max_messages_per_page\' in typed.toml must be a whole number of at least 0, not "twenty"',
      },
    });
    assert.equal(json.code, 1);
    const broken = await posthorn(at, 'spool', 'status', '--config', 'broken.toml');
    assert.equal(
      broken.err,
      'posthorn spool status: broken.toml is not valid TOML: illegal character in key (line 1, column 14)\n',
    );
    const env = await posthorn(
      { cwd: configs, env: { POSTHORN_PORT: 'http' } },
      'queue',
      'move',
      'demo/q',
      '--to',
      'pg',
    );
    assert.equal(
      env.err,
      'posthorn queue move: environment variable POSTHORN_PORT must be a port number (0 to 65535), not "http"\n',
    );
  });

  it('notify status refuses a folder that is not there, and finds the notifications from --data', async () => {
    const missing = join(dir, 'no-such-folder');
    const refused = await posthorn(inDir, 'notify', 'status', missing);
    assert.equal(refused.err, `posthorn notify status: folder "${missing}" does not exist\n`);
    assert.equal(refused.code, 1);
    const data = mkdtempSync(join(dir, 'data-'));
    mkdirSync(join(data, 'notifications', '0'), { recursive: true });
    const found = await posthorn(inDir, 'notify', 'status', '--data', data, '--json');
    assert.equal(found.code, 0, found.err);
    assert.deepEqual(JSON.parse(found.out), { dir: join(data, 'notifications'), subscriptions: [] });
    // No error names an option of the library ("pass createIfMissing") that the command does not have.
    mkdirSync(join(data, 'notifications', '0', 'spool'));
    const empty = await posthorn(inDir, 'notify', 'status', '--data', data);
    assert.equal(
      empty.err,
      `posthorn notify status: ${join(data, 'notifications', '0', 'spool')} is not a usable spool: the folder is empty\n`,
    );
    const spool = await posthorn(inDir, 'spool', 'status', '--data', data, '--json');
    assert.deepEqual(JSON.parse(spool.err), {
      error: {
        code: 'PH_NOT_A_SPOOL',
        message: `${join(data, 'notifications', '0', 'spool')} is not a usable spool: the folder is empty`,
      },
    });
  });

  it('queue move counts with the right plural and reports a failed request with its code', async () => {
    const one = await moveServer([{ status: 202, body: doneMove(1, 1) }]);
    const many = await moveServer([{ status: 202, body: doneMove(2, 0) }]);
    const refusing = await moveServer([
      { status: 404, body: { title: 'Not found', description: 'pool "pg" does not exist' } },
    ]);
    try {
      const args = (url: string) => ['queue', 'move', 'demo/mail', '--to', 'pg', '--url', url, '--admin-token', 't'];
      const single = await posthorn(inDir, ...args(one.url));
      assert.equal(single.code, 0, single.err);
      assert.match(single.out, /\ndone: demo\/mail is in pool pg \(1 message copied from red, 1 claim released\)\n$/);
      const plural = await posthorn(inDir, ...args(many.url));
      assert.match(plural.out, /\ndone: demo\/mail is in pool pg \(2 messages copied from red\)\n$/);
      const refused = await posthorn(inDir, ...args(refusing.url), '--json');
      assert.equal(refused.code, 1);
      assert.deepEqual(JSON.parse(refused.err), {
        error: {
          code: 'PH_REQUEST_FAILED',
          message: `${refusing.url}/v2/queues/mail/move answered 404 Not found: pool "pg" does not exist`,
        },
      });
    } finally {
      for (const { server } of [one, many, refusing]) server.close();
    }
    // A server that is not there: the port of a server just closed.
    const gone = await moveServer([]);
    await new Promise((resolve) => gone.server.close(resolve));
    const unreachable = await posthorn(
      inDir,
      'queue',
      'move',
      'demo/mail',
      '--to',
      'pg',
      '--url',
      gone.url,
      '--admin-token',
      't',
    );
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.err, /^posthorn queue move: cannot reach .*: connect ECONNREFUSED .* stays resumable/);
  });

  it('run as a process, it exits 2 for a wrong command line and 1 for a failure, with --json errors on stderr', async () => {
    const usage = await posthornProcess(['spool', 'freeze', dir, '--json'], { cwd: dir });
    assert.equal(usage.code, 2);
    assert.deepEqual(JSON.parse(usage.err), {
      error: { code: 'PH_USAGE', message: "missing required argument 'ids'" },
    });
    const failure = await posthornProcess(['spool', 'status', join(dir, 'missing')], { cwd: dir });
    assert.equal(failure.code, 1);
    assert.equal(
      failure.err,
      `posthorn spool status: ${join(dir, 'missing')} is not a usable spool: the folder does not exist\n`,
    );
    assert.equal(usage.out + failure.out, '');
  });
});
