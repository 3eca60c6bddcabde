import cluster from 'node:cluster';
import type { Command } from 'commander';
import type { RunningServer, ServeFlags } from '../server/index.js';

/** Seconds a shutdown may take before the process gives up waiting and exits anyway. */
const SHUTDOWN_GRACE_SECONDS = 30;

/**
 * `posthorn serve`: the queue server on the embedded disk store. SIGTERM or SIGINT stop it
 * gracefully: no new connections, requests in flight finish, the store is closed (fsynced,
 * unlocked). A second signal, or a shutdown that hangs, ends the process at once.
 */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description("Serve queues over OpenStack Zaqar's v2 HTTP API (default http://127.0.0.1:8888, data in ./data)")
    .option(
      '--config <file>',
      'configuration file, TOML or JSON (default: ./posthorn.toml or ./posthorn.json if present)',
    )
    .option('--host <host>', 'address to listen on (default 127.0.0.1)')
    .option('--port <port>', 'HTTP port (default 8888; 0 picks a free one)')
    .option('--data <dir>', "the embedded store's folder (default ./data)")
    .option('--ws-port <port>', "the WebSocket API's port (default 9000)")
    .option('--store <kind>', 'the embedded store: disk (durable, the default) or memory (gone at exit)')
    .option('--log-level <level>', 'trace, debug, info (the default), warn, error, fatal or silent')
    .option('--workers <n>', 'serve from N processes on one port (needs a shared [pooling] catalog and pools)')
    .action(async (flags: ServeFlags & { workers?: string }) => {
      // The server (and fastify, pino, the stores with it) loads only for this command, so the
      // other commands start fast and work where the server's optional packages are not installed.
      const { checkWorkersAllowed, loadServerConfig, runPrimary, STOP_MESSAGE, serverLogger, startQueueServer } =
        await loadServer();
      if (flags.workers !== undefined && cluster.isPrimary) {
        const workers = Number(flags.workers);
        if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
          process.stderr.write(`posthorn serve: --workers must be a whole number from 1 to 256\n`);
          process.exit(1);
        }
        if (workers > 1) {
          try {
            const config = loadServerConfig({ flags, env: process.env, cwd: process.cwd() });
            await checkWorkersAllowed(config);
            runPrimary(workers, serverLogger(config.logLevel));
          } catch (error) {
            process.stderr.write(`posthorn serve: ${error instanceof Error ? error.message : String(error)}\n`);
            process.exit(1);
          }
          return;
        }
      }
      let server: RunningServer;
      try {
        server = await startQueueServer(loadServerConfig({ flags, env: process.env, cwd: process.cwd() }));
      } catch (error) {
        // A bad setting or a store another server holds: say so in one line, not a stack.
        const message = error instanceof Error ? error.message : String(error);
        process.stderr.write(`posthorn serve: ${message}\n`);
        process.exit(1);
      }
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) {
          server.logger.warn({ signal }, 'second signal: exiting without waiting');
          process.exit(1);
        }
        stopping = true;
        server.logger.info({ signal }, 'shutting down');
        const timer = setTimeout(() => {
          server.logger.error({ seconds: SHUTDOWN_GRACE_SECONDS }, 'shutdown took too long: exiting');
          process.exit(1);
        }, SHUTDOWN_GRACE_SECONDS * 1000);
        timer.unref();
        server.close().then(
          () => process.exit(0),
          (error: unknown) => {
            server.logger.error({ err: error }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
      if (process.env.npm_lifecycle_event !== undefined && cluster.isPrimary) watchLauncher(() => stop('SIGTERM'));
      // A worker of --workers: the primary asks it to stop (it may have had the terminal's signal already).
      process.on('message', (message) => {
        if (message === STOP_MESSAGE && !stopping) stop('SIGTERM');
      });
    });
}

/**
 * Started by npm (`npx posthorn serve`, an npm script): npm hands a signal to the shell it ran the
 * command in, and a shell that does not exec its command dies of it, leaving this process behind
 * under init. So a server that npm started stops, gracefully, when the process that started it is
 * gone — as if the signal had reached it.
 */
function watchLauncher(stop: () => void): void {
  const launcher = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === launcher) return;
    clearInterval(timer);
    stop();
  }, 500);
  timer.unref();
}

async function loadServer(): Promise<typeof import('../server/index.js')> {
  try {
    return await import('../server/index.js');
  } catch (error) {
    const missing = /Cannot find package '([^']+)'/.exec(String((error as Error).message))?.[1];
    if ((error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && missing !== undefined) {
      process.stderr.write(
        `posthorn serve: needs the ${missing} package, which is not installed: npm install ${missing}\n`,
      );
      process.exit(1);
    }
    throw error;
  }
}
