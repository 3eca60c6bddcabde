/**
 * `posthorn queue move` on a terminal draws a cli-progress bar instead of a line per status, and
 * ends with the plain final line; off a terminal it prints the lines (program.test.ts).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { it } from 'node:test';
import type { CliIo } from '../../src/cli/cli-io.js';
import { runCli } from '../../src/cli/program.js';
import { systemClock } from '../../src/core/index.js';

const move = (status: string, step: string, copied: number, free: number) => ({
  id: 'm1',
  queue: 'mail',
  from: 'red',
  to: 'pg',
  status,
  step,
  active: true,
  copied,
  source: { free, claimed: 0, delayed: 0 },
  released_claims: 0,
  recovered: 0,
  error: null,
});

/** A terminal for cli-progress: it writes, moves the cursor and clears lines. */
function fakeTerminal() {
  let drawn = '';
  const stream = {
    isTTY: true,
    columns: 100,
    write: (text: string) => {
      drawn += text;
      return true;
    },
    cursorTo: () => true,
    moveCursor: () => true,
    clearLine: () => true,
    clearScreenDown: () => true,
    on: () => stream,
    off: () => stream,
    removeListener: () => stream,
  };
  return { stream, drawn: () => drawn };
}

it('queue move draws a progress bar on a terminal, then the final line', async () => {
  const answers = [move('running', 'copy', 0, 4), move('running', 'copy', 2, 2), move('done', 'done', 4, 0)];
  let next = 0;
  const server = createServer((request, response) => {
    request.resume();
    const answer = answers[Math.min(next++, answers.length - 1)];
    response.writeHead(next === 1 ? 202 : 200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const terminal = fakeTerminal();
  let out = '';
  const io: CliIo = {
    out: (text) => {
      out += text;
    },
    err: () => {},
    setExitCode: () => {},
    clock: systemClock,
    env: {},
    cwd: () => tmpdir(),
    tty: { write: terminal.stream.write, stream: terminal.stream as unknown as NodeJS.WriteStream },
  };
  try {
    const code = await runCli(['queue', 'move', 'demo/mail', '--to', 'pg', '--url', url, '--admin-token', 't'], io);
    assert.equal(code, 0);
  } finally {
    server.close();
  }
  assert.equal(out, 'done: demo/mail is in pool pg (4 messages copied from red)\n', 'only the final line is printed');
  assert.match(terminal.drawn(), /copy \[[^\]]*\] 0\/4 copied to pg/);
  assert.match(terminal.drawn(), /\] 4\/4 copied to pg/, 'the bar ends full');
});
