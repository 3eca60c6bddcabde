import type { SpooledEnvelope } from '../core/index.js';
import type { DataCodec } from '../multispool/index.js';

/**
 * The data file of a spooled message: one JSON line with the sender, recipients and headers,
 * then the body's bytes as they are. An operator can read a spooled mail with `tail -n +2`, and
 * the body is never re-encoded.
 */
export const envelopeCodec: DataCodec<SpooledEnvelope> = {
  encode(envelope) {
    const head = JSON.stringify({
      sender: envelope.sender,
      recipients: envelope.recipients,
      headers: envelope.headers,
    });
    return Buffer.concat([Buffer.from(`${head}\n`, 'utf8'), envelope.body]);
  },
  decode(bytes) {
    const end = bytes.indexOf(10);
    if (end < 0) throw new TypeError('no envelope line');
    const head = JSON.parse(bytes.toString('utf8', 0, end)) as Record<string, unknown>;
    const { sender, recipients, headers } = head;
    if (typeof sender !== 'string') throw new TypeError('bad sender');
    if (!Array.isArray(recipients) || !recipients.every((r) => typeof r === 'string'))
      throw new TypeError('bad recipients');
    if (
      !Array.isArray(headers) ||
      !headers.every((h) => Array.isArray(h) && h.length === 2 && typeof h[0] === 'string' && typeof h[1] === 'string')
    ) {
      throw new TypeError('bad headers');
    }
    return {
      sender,
      recipients: recipients as string[],
      headers: headers as [string, string][],
      body: Buffer.from(bytes.subarray(end + 1)),
    };
  },
};
