// Why an inbound message was refused: a stable name per kind (counted per kind, logged once per kind).

export const REFUSAL_KINDS = [
  /** a required Mmbus-* header is missing or malformed */
  'header',
  /** Mmbus-Encoding names another encoding than the route's */
  'encoding',
  /** Mmbus-Schema names another schema than the channel's */
  'schema',
  /** Mmbus-Fingerprint is another layout's */
  'fingerprint',
  /** the payload or Mmbus-Record-Size is not the channel's record size */
  'size',
  /** JSON: not JSON (or not UTF-8) */
  'json-syntax',
  /** JSON: a field the schema does not have */
  'json-field',
  /** JSON: a field of the schema is missing */
  'json-missing',
  /** JSON: a value of the wrong type (e.g. a number for a 64-bit integer, which must be a string) */
  'json-type',
  /** JSON: a value out of its field's range (integer width, text bytes, array length, float32) */
  'json-range',
  /** a bucket's key that is not one of the channel's keys (decimal 0 .. keys - 1), or not the record's own key */
  'kv-key',
  /** a bucket's delete or purge: keyed channels have no deletions */
  'kv-delete',
] as const;

export type RefusalKind = (typeof REFUSAL_KINDS)[number];

export class Refused extends Error {
  override readonly name = 'Refused';

  readonly kind: RefusalKind;

  constructor(kind: RefusalKind, message: string) {
    super(message);
    this.kind = kind;
  }
}
