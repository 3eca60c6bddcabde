import fastifyCors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';

/** Zaqar's `[cors]` options (oslo.middleware's CORS), as the HTTP app takes them. */
export interface CorsPolicy {
  /** Origins (`https://app.example.org`, no trailing slash) whose pages may call the API; `*`: any. */
  allowedOrigins: readonly string[];
  allowCredentials: boolean;
  exposeHeaders: readonly string[];
  /** Seconds a browser may cache a preflight's answer. */
  maxAge: number;
  allowMethods: readonly string[];
  allowHeaders: readonly string[];
}

/**
 * CORS through @fastify/cors, the way oslo.middleware answers for Zaqar: a request from an
 * allowed origin gets the Access-Control-* headers (a preflight is answered 204 with them); a
 * request with no Origin, or from an origin not allowed, gets none — not even the method and
 * header lists, which @fastify/cors would otherwise send with an origin list — and goes on to
 * its route as if CORS were off.
 */
export function registerCors(app: FastifyInstance, policy: CorsPolicy): void {
  const allowed = new Set(policy.allowedOrigins);
  const any = allowed.has('*');
  void app.register(fastifyCors, {
    // The request's own origin, never `*`: a `*` answer cannot carry credentials.
    origin: (origin, callback) => callback(null, origin !== undefined && (any || allowed.has(origin)) ? origin : false),
    credentials: policy.allowCredentials,
    exposedHeaders: [...policy.exposeHeaders],
    maxAge: policy.maxAge,
    methods: [...policy.allowMethods],
    allowedHeaders: [...policy.allowHeaders],
    // A preflight must say the method it asks for; one that does not is not a preflight (and gets 400).
    strictPreflight: true,
  });
}
