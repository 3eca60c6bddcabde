import { InvalidArgumentError, LimitExceededError, type PosthornErrorOptions } from '../core/index.js';

/**
 * The titles Zaqar gives its refusals. Both transports show them (HTTP in the error body,
 * WebSocket in the response), so clients written against Zaqar see what they expect.
 */
export const TITLES = {
  api: 'Invalid API request',
  body: 'Invalid request body',
  queueIdentification: 'Invalid queue identification',
  topicIdentification: 'Invalid topic identification',
  wrongUuid: 'Wrong UUID value',
  missingHeader: 'Missing header value',
  projectMissing: 'Project-Id Missing',
  emptyProject: 'Empty project header not allowed',
  unableToDelete: 'Unable to delete',
  unableToUpdateSubscription: 'Unable to update subscription',
  unableToConfirmSubscription: 'Unable to confirm subscription',
  invalidParameter: 'Invalid parameter',
} as const;

/**
 * A request the service refuses before touching storage. It is an InvalidArgumentError (code
 * PH_INVALID_ARGUMENT, so callers that switch on codes keep working) that also carries the
 * sentence a client sees and the title Zaqar uses for this kind of refusal.
 */
export class RequestRefusedError extends InvalidArgumentError {
  constructor(
    field: string,
    readonly description: string,
    readonly title: string = TITLES.api,
    options?: PosthornErrorOptions,
  ) {
    super(field, description, options);
  }
}

/** A refusal of the request document itself (unparseable, wrong shape, wrong field type). */
export function bodyError(field: string, description: string): RequestRefusedError {
  return new RequestRefusedError(field, description, TITLES.body);
}

/** A refusal of a value that has the right shape but breaks a rule (a range, a limit...). */
export function apiError(field: string, description: string): RequestRefusedError {
  return new RequestRefusedError(field, description, TITLES.api);
}

/**
 * A post's messages take more bytes than their queue accepts: the server's max_messages_post_size,
 * or the queue's _max_messages_post_size when that is lower (Zaqar's message_length rule). A
 * LimitExceededError (PH_LIMIT_EXCEEDED, answered 400 "Invalid API request") in Zaqar's own
 * sentences, so its clients read what they expect.
 */
export class MessagesTooLargeError extends LimitExceededError {
  constructor(limit: number, size: number, serverLimit: number) {
    super('messages', limit, size, {
      message:
        limit < serverLimit
          ? `Message collection size is too large. The max size for current queue is ${limit}. It is calculated by max size = min(max_messages_post_size_config: ${serverLimit}, max_messages_post_size_queue: ${limit}).`
          : `Message collection size is too large. Max size ${limit}`,
    });
  }
}
