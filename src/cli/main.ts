#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command } from 'commander';

/** The `posthorn` command. Each subcommand lives in its own file and registers itself here. */
export function buildProgram(): Command {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return new Command('posthorn').description('Durable message queues: server, spools and tools').version(pkg.version);
}

buildProgram().parseAsync(process.argv);
