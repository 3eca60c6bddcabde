/** The label value that stands for every project and queue past a budget. */
export const OTHER = '_other';

/**
 * Children of a labelled metric per (project, queue), made once and kept: the hot path then costs
 * one map lookup, not the label hashing prom-client does on every `inc` with labels. At most
 * `max` pairs get their own children; the rest share the `_other` ones, so a server with 100,000
 * queues keeps a scrape of bounded size.
 */
export class LabelBudget<T> {
  private readonly children = new Map<string, T>();
  private other: T | null = null;

  constructor(
    private readonly max: number,
    private readonly make: (project: string, queue: string) => T,
  ) {}

  get(project: string, queue: string): T {
    const key = `${project}\u0000${queue}`;
    const known = this.children.get(key);
    if (known !== undefined) return known;
    if (this.children.size >= this.max) {
      this.other ??= this.make(OTHER, OTHER);
      return this.other;
    }
    const made = this.make(project, queue);
    this.children.set(key, made);
    return made;
  }
}
