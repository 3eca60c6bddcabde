/**
 * Spools report what they repair (entries recovered from dead processes, files moved aside as
 * corrupt) through a log function, so an operator learns of it; pass one that forwards to your
 * logger (for pino: `(level, msg, fields) => logger[level](fields, msg)`).
 */
export type SpoolLogLevel = 'info' | 'warn' | 'error';

export type SpoolLog = (level: SpoolLogLevel, message: string, fields?: Record<string, unknown>) => void;

/** The default: one JSON line per event on stderr. */
export const stderrLog: SpoolLog = (level, message, fields = {}) => {
  process.stderr.write(`${JSON.stringify({ level, time: new Date().toISOString(), msg: message, ...fields })}\n`);
};

/** Discards everything; for callers that report through events instead. */
export const silentLog: SpoolLog = () => {};
