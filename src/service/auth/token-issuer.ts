import { SignJWT } from 'jose';
import { InvalidArgumentError } from '../../core/index.js';
import { TOKEN_AUDIENCE, TOKEN_ISSUER } from './token-authenticator.js';

export interface TokenRequest {
  project: string;
  roles: readonly string[];
  /** Seconds the token is valid. */
  ttlSeconds: number;
  /** The token's subject (who it is for); optional. */
  subject?: string;
}

/** Makes a JWT the token strategy accepts (what `posthorn token create` prints). */
export async function issueToken(secret: string, request: TokenRequest, now: number = Date.now()): Promise<string> {
  if (request.project === '') throw new InvalidArgumentError('project', 'must not be empty');
  if (!Number.isInteger(request.ttlSeconds) || request.ttlSeconds <= 0) {
    throw new InvalidArgumentError('ttl', 'must be a whole number of seconds, more than 0');
  }
  const issuedAt = Math.floor(now / 1000);
  const jwt = new SignJWT({ project: request.project, roles: [...request.roles] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(TOKEN_ISSUER)
    .setAudience(TOKEN_AUDIENCE)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + request.ttlSeconds);
  if (request.subject !== undefined) jwt.setSubject(request.subject);
  return jwt.sign(new TextEncoder().encode(secret));
}

/** Reads a duration as `posthorn token create --ttl` takes it: 3600, 90s, 30m, 12h, 7d. */
export function parseTtl(text: string): number {
  const match = /^(\d+)\s*([smhd]?)$/.exec(text.trim());
  if (match === null)
    throw new InvalidArgumentError('ttl', `must be a duration like 3600, 30m, 12h or 7d, not "${text}"`);
  const n = Number(match[1]);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  if (n <= 0) throw new InvalidArgumentError('ttl', 'must be more than 0');
  return n * unit;
}
