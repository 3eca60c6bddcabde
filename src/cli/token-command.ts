import type { Command } from 'commander';
import { UsageError } from '../core/index.js';
import { loadServerConfig } from '../server/config.js';
import { issueToken, parseTtl } from '../service/index.js';
import { type CliIo, processIo } from './cli-io.js';

/**
 * `posthorn token create --project P --role R [--role R2] --ttl 1h`: prints a JWT that a server
 * with `auth_strategy = "token"` accepts, signed with the `[token] secret` of the configuration
 * `posthorn serve` would read (`--config`, POSTHORN_CONFIG, POSTHORN_TOKEN_SECRET).
 */
interface TokenFlags {
  project: string;
  role: string[];
  ttl: string;
  subject?: string;
  config?: string;
}

export function registerTokenCommand(program: Command, io: CliIo = processIo): void {
  const token = program.command('token').description('Posthorn\'s own bearer tokens (auth_strategy = "token")');
  token
    .command('create')
    .description('print a signed token (JWT) for a project and roles')
    .requiredOption('--project <project>', 'the project the token works in')
    .option(
      '--role <role>',
      'a role it grants (repeat for more)',
      (role: string, roles: string[]) => [...roles, role],
      [],
    )
    .option('--ttl <duration>', 'how long it is valid: 3600, 30m, 12h, 7d', '1h')
    .option('--subject <name>', 'who the token is for (its "sub" claim)')
    .option('--config <file>', 'the server configuration whose [token] secret signs it')
    .action(async (opts: TokenFlags) => {
      const config = loadServerConfig({
        flags: opts.config === undefined ? {} : { config: opts.config },
        env: io.env,
        cwd: io.cwd(),
      });
      const secret = config.auth.token?.secret ?? null;
      const fromAnyStrategy = secret ?? (io.env.POSTHORN_TOKEN_SECRET || null);
      if (fromAnyStrategy === null) {
        throw new UsageError('no [token] secret is configured (set it in the config or POSTHORN_TOKEN_SECRET)');
      }
      if (opts.role.length === 0) throw new UsageError('give at least one --role');
      const jwt = await issueToken(fromAnyStrategy, {
        project: opts.project,
        roles: opts.role,
        ttlSeconds: parseTtl(opts.ttl),
        ...(opts.subject !== undefined ? { subject: opts.subject } : {}),
      });
      io.out(`${jwt}\n`);
    });
}
