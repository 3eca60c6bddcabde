/**
 * The logging seam: the shape of pino's methods (an object of fields, then a message), so a
 * pino logger can be passed straight in. Library code logs only what an operator must see.
 */
export interface Logger {
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

/** Warnings and errors as JSON lines on stderr; info is dropped. The default of the library. */
export const stderrLogger: Logger = {
  info() {},
  warn(fields, message) {
    process.stderr.write(`${JSON.stringify({ level: 'warn', time: Date.now(), ...fields, msg: message })}\n`);
  },
  error(fields, message) {
    process.stderr.write(`${JSON.stringify({ level: 'error', time: Date.now(), ...fields, msg: message })}\n`);
  },
};

/** Drops everything (tests that provoke warnings on purpose). */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
