/**
 * What the service tells whoever counts its work (the server's metrics), per project and queue.
 * Called on the request path after the store answered, so each call must cost a few map updates,
 * never a storage call, and must not throw. Topics are not counted: their projects live in
 * another namespace and Zaqar's metrics name queues.
 */
export interface MessageCounters {
  /** `count` messages were stored by a post. */
  posted(project: string, queue: string, count: number): void;
  /** A claim took `count` messages. */
  claimed(project: string, queue: string, count: number): void;
  /**
   * `count` messages were deleted (one, a bulk delete's ids — unknown ones included, as the store
   * does not say which were there — or a pop's).
   */
  deleted(project: string, queue: string, count: number): void;
}
