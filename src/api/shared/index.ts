export {
  answerFor,
  type ErrorAnswer,
  HttpError,
  RETRY_AFTER,
  RETRY_HINT,
  UNAVAILABLE_TITLE,
} from './error-answers.js';
export { logFailure } from './failure-log.js';
export { type ApiVersion, homeDocument, V1_1, V2, versionsDocument } from './home-document.js';
export { hasOverflowingInteger } from './json-integers.js';
