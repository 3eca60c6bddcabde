import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerNotifyCommand } from './notify-command.js';
import { registerQueueCommand } from './queue-command.js';
import { registerServeCommand } from './serve-command.js';
import { registerSpoolCommand } from './spool-command.js';

/**
 * The `posthorn` command. Each subcommand lives in a file of its own that exports a
 * `register(program)` function; add it to `commands` below.
 */
const commands: ((program: Command) => void)[] = [
  registerServeCommand,
  registerSpoolCommand,
  registerQueueCommand,
  registerNotifyCommand,
];

export function buildProgram(): Command {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  const program = new Command('posthorn')
    .description('Durable message queues: server, spools and tools')
    .version(pkg.version);
  for (const register of commands) register(program);
  return program;
}
