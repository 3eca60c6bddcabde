/**
 * One job's abort switch, whose AbortSignal is made only when the handler asks for it.
 *
 * A Worker gives every job a signal, but most handlers never read it, and an AbortController
 * per job was 7 % of the disk Worker's CPU in bench:worker. The switch remembers an abort that
 * comes before anyone asked, so a signal made late is already aborted with the same reason.
 */
export class AbortSwitch {
  private controller: AbortController | null = null;
  private aborted = false;
  private reason: unknown;

  get signal(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}
