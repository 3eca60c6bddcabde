import { TITLES } from '../../service/index.js';
import { answerFor, type ErrorAnswer } from '../shared/index.js';

/**
 * Errors as HTTP answers: the transports' shared answers (api/shared) and, before them, what
 * only HTTP meets — Fastify's own errors. The body is always `{"title": ..., "description": ...}`.
 */

/** What a route says when its body is over the limit (set in the route's config). */
export interface SizeLimitText {
  title: string;
  description: string;
}

/** Fastify's own errors (body too large, bad Content-Length, bad URL...) in Zaqar's terms. */
function fastifyAnswer(error: unknown, sizeLimit: SizeLimitText | undefined): ErrorAnswer | undefined {
  if (!(error instanceof Error)) return undefined;
  const { code, statusCode } = error as Error & { code?: string; statusCode?: number };
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 400,
        title: sizeLimit?.title ?? TITLES.api,
        description: sizeLimit?.description ?? 'The request body is too large.',
        log: false,
      };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return {
        status: 400,
        title: TITLES.body,
        description: 'The request body does not have the length its Content-Length header says.',
        log: false,
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 400,
        title: 'Invalid Content-Type',
        description: 'The Content-Type header is malformed.',
        log: false,
      };
    default:
      if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
        return { status: statusCode, title: TITLES.api, description: error.message, log: false };
      }
      return undefined;
  }
}

/**
 * Turns any error into the HTTP answer to send. `action` says what the route was doing
 * ("Messages could not be posted.") for 503 descriptions.
 */
export function httpAnswerFor(error: unknown, action: string, sizeLimit?: SizeLimitText): ErrorAnswer {
  return fastifyAnswer(error, sizeLimit) ?? answerFor(error, action);
}

/** The JSON body of an answer. */
export function answerBody(answer: ErrorAnswer): string {
  return JSON.stringify({ title: answer.title, description: answer.description });
}
