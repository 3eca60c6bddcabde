import { readFileSync } from 'node:fs';
import { type Command, CommanderError } from 'commander';
import { type CliIo, processIo } from './cli-io.js';
import { exitCodeOf, formatError } from './error-report.js';
import { registerNotifyCommand } from './notify-command.js';
import { CommandLineError, PosthornCommand } from './posthorn-command.js';
import { registerQueueCommand } from './queue-command.js';
import { registerQueueOpsCommands } from './queue-ops-command.js';
import { registerServeCommand } from './serve-command.js';
import { registerSpoolCommand } from './spool-command.js';
import { registerTokenCommand } from './token-command.js';
import { registerTopCommand } from './top-command.js';

/**
 * The `posthorn` command. Each subcommand lives in a file of its own that exports a
 * `register(program, io)` function; add it to `commands` below. An action reports an error by
 * throwing it (a PosthornError): `runCli` prints it the one way every command does.
 */
const commands: ((program: Command, io: CliIo) => void)[] = [
  registerServeCommand,
  registerSpoolCommand,
  registerQueueCommand,
  registerQueueOpsCommands,
  registerNotifyCommand,
  registerTokenCommand,
  registerTopCommand,
];

export function buildProgram(io: CliIo = processIo): Command {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  // Subcommands inherit the output and the exit override from here: configure before registering.
  const program = new PosthornCommand('posthorn')
    .description('Durable message queues: server, spools and tools')
    .version(pkg.version)
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.out(text), writeErr: (text) => io.err(text) });
  for (const register of commands) register(program, io);
  return program;
}

/**
 * Runs a `posthorn` command line (the arguments after the script's name) and answers its exit
 * code: 0 when it did everything, 1 when it failed (or did only part), 2 when the command line
 * is wrong. Every error is one line on stderr, `posthorn <command>: <what is wrong>`, or one
 * JSON object (see error-report.ts) when the command was given `--json`.
 */
export async function runCli(args: readonly string[], io: CliIo = processIo): Promise<number> {
  let exitCode = 0;
  const program = buildProgram({
    ...io,
    setExitCode: (code) => {
      exitCode = code;
    },
  });
  let running: Command = program;
  program.hook('preAction', (_hooked, actionCommand) => {
    running = actionCommand;
  });
  try {
    await program.parseAsync([...args], { from: 'user' });
    return exitCode;
  } catch (error) {
    // What commander throws itself is help or the version (0), or the help of a command given no subcommand.
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    const command = error instanceof CommandLineError ? error.command : running;
    io.err(formatError((command as PosthornCommand).path, error, wantsJson(command, args)));
    return exitCodeOf(error);
  }
}

/**
 * Whether the failing command speaks JSON and was asked to. A usage error can come before
 * commander has read `--json` (an option's bad value is refused as it is read), so the
 * command line is looked at too.
 */
function wantsJson(command: Command, args: readonly string[]): boolean {
  if (!command.options.some((option) => option.long === '--json')) return false;
  const end = args.indexOf('--');
  return command.opts().json === true || (end === -1 ? args : args.slice(0, end)).includes('--json');
}
