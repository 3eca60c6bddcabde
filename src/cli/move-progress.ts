import cliProgress from 'cli-progress';
import type { CliIo } from './cli-io.js';

/** What the bar needs of a move's status (GET /v2/queues/{queue}/move). */
export interface MoveProgress {
  step: string;
  to: string;
  copied: number;
  source: { free: number; claimed: number; delayed: number };
}

/**
 * A progress bar for `posthorn queue move` on a terminal (cli-progress): copied of copied plus
 * what is left in the old pool, which may grow while producers still post there. Null when the
 * output is not a terminal: the command prints a plain line per change instead.
 */
export function moveBar(io: CliIo): { update(move: MoveProgress): void; stop(): void } | null {
  const stream = io.tty?.stream;
  if (stream === undefined) return null;
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: '{step} [{bar}] {value}/{total} copied to {to}',
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(move) {
      const left = move.source.free + move.source.claimed + move.source.delayed;
      const total = Math.max(1, move.copied + left);
      const payload = { step: move.step, to: move.to };
      if (!started) {
        bar.start(total, move.copied, payload);
        started = true;
        return;
      }
      bar.setTotal(total);
      bar.update(move.copied, payload);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
