/**
 * What the HTTP app tells of every request it answers (the server's metrics count them). The
 * app asks for one RouteCounter per route when the route is added and calls it from the route's
 * own handler and the error handlers, so counting costs no app-wide hook (an onResponse hook on
 * every request cost about 3 % of the produce rate in bench:http) and no per-request lookup of
 * the route's labels.
 */
export interface RequestObserver {
  /** The counter of a route by its method and template (`/v2/queues/:name/messages`); null: no route matched. */
  route(method: string, template: string | null): RouteCounter;
}

export interface RouteCounter {
  /** A request answered with `status` after `seconds`, in `project` when it named one. */
  answered(status: number, seconds: number, project: string | null): void;
}
