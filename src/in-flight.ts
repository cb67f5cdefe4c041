/**
 * Operations on their way, counted by key (a room, an instance's room): whether any is, for
 * a decision that must wait until the last has answered.
 */
export class InFlight {
  private readonly counts = new Map<string, number>();

  /** One more operation on `key`. */
  begin(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  /** One operation on `key` answered (or failed). */
  end(key: string): void {
    const n = (this.counts.get(key) ?? 1) - 1;
    if (n === 0) this.counts.delete(key);
    else this.counts.set(key, n);
  }

  /** Whether an operation on `key` is on its way. */
  has(key: string): boolean {
    return this.counts.has(key);
  }
}
