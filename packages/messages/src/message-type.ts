/** What every generated message class provides: rely on this shape rather than on a concrete class. */
export interface MessageType<T> {
  /** Fully qualified schema name, e.g. 'mmbus.Person'. */
  readonly NAME: string;
  /** Record size in bytes. */
  readonly SIZE: number;
  /** Record alignment in bytes. */
  readonly ALIGN: number;
  /** 64-bit fingerprint of the layout; equal fingerprints mean identical layouts. */
  readonly FINGERPRINT: bigint;
  /** A flyweight at `offset` in `view` (by default over a new zeroed buffer of SIZE bytes). */
  new (view?: DataView, offset?: number): T;
}
