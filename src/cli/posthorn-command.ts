import { Command, InvalidArgumentError as CommanderInvalidArgument, Help, type Option } from 'commander';
import { InvalidArgumentError, UsageError } from '../core/index.js';

/** A usage error commander found, with the command whose command line was wrong. */
export class CommandLineError extends UsageError {
  constructor(
    readonly command: Command,
    message: string,
  ) {
    super(message);
  }
}

/** Commander's help, which marks choices and defaults, marking required options too. */
class PosthornHelp extends Help {
  override optionDescription(option: Option): string {
    const description = super.optionDescription(option);
    return option.mandatory ? `${description} (required)` : description;
  }
}

/**
 * The `posthorn` command and its subcommands (commander makes every subcommand with
 * `createCommand`). A usage error is thrown as a CommandLineError instead of being printed
 * by commander, so that `runCli` reports every error in one format — `posthorn <command>:
 * <what is wrong>`, or JSON with `--json` — and exits 2 for it.
 */
export class PosthornCommand extends Command {
  override createCommand(name?: string): PosthornCommand {
    return new PosthornCommand(name);
  }

  override createHelp(): Help {
    return Object.assign(new PosthornHelp(), this.configureHelp());
  }

  override error(message: string): never {
    // Commander's messages start with "error: " and put a suggestion on a line of its own.
    throw new CommandLineError(this, message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' '));
  }

  /** `posthorn spool status`: the words that name this command. */
  get path(): string {
    const names: string[] = [];
    for (let command: Command | null = this; command !== null; command = command.parent) names.unshift(command.name());
    return names.join(' ');
  }
}

/**
 * An option's or argument's parser (commander's argParser) from a function that refuses a bad
 * value with Posthorn's InvalidArgumentError or a UsageError: commander then reports the value
 * and the reason as a usage error, like its own.
 */
export function commandLineValue<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text);
    } catch (error) {
      if (error instanceof InvalidArgumentError) throw new CommanderInvalidArgument(error.reason);
      if (error instanceof UsageError) throw new CommanderInvalidArgument(error.message);
      throw error;
    }
  };
}
