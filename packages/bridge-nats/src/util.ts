// Small pieces the routes share.

/** Logs a line the first time its key is seen: a failure repeated on every retry is said once. */
export class OnceLog {
  private readonly seen = new Set<string>();
  private readonly log: (line: string) => void;

  constructor(log: (line: string) => void) {
    this.log = log;
  }

  say(key: string, line: string): void {
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.log(line);
  }

  /** The failure is over: say it again if it comes back. */
  forget(key: string): void {
    this.seen.delete(key);
  }
}

/** Resolves after ms, or as soon as `cut` resolves. Never spins. */
export function pause(ms: number, cut: Promise<unknown> = new Promise(() => {})): Promise<void> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([new Promise<void>((r) => (t = setTimeout(r, ms))), cut.then(() => {})]).finally(() => clearTimeout(t));
}
