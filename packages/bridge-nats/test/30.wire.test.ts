// The wire encodings (docs/bridge.md): headers of an outbound record, and the inbound checks that
// refuse a record not of the channel's layout, having written nothing.
import { Person, PointUpdate } from '@mmbus/messages';
import { headers as natsHeaders, type MsgHdrs } from 'nats';
import { describe, expect, it } from 'vitest';

import { HEADER, hex64, messageId, RecordCodec, Refused, type RecordClass } from '../src/index.js';

const PersonClass = Person as unknown as RecordClass;
const enc = new TextEncoder();

function hdrs(values: Record<string, string>): MsgHdrs {
  const h = natsHeaders();
  for (const [k, v] of Object.entries(values)) h.set(k, v);
  return h;
}

function person(index: bigint, name: string, age: number): Uint8Array {
  const p = new Person().assign({ index, name, age });
  return new Uint8Array(p.view.buffer, p.offset, Person.SIZE).slice();
}

const rawHeaders = { [HEADER.schema]: 'mmbus.Person', [HEADER.fingerprint]: hex64(Person.FINGERPRINT), [HEADER.recordSize]: '128' };

/**
 * Decodes into a record pre-filled with 0xee (a refusal must leave every byte as it was); if
 * accepted, again into a zeroed record (what the bridge gives it) and returns those bytes.
 */
function decode(codec: RecordCodec, data: Uint8Array, h?: MsgHdrs): { kind: string; bytes: Uint8Array } {
  const target = new Person();
  const bytes = new Uint8Array(target.view.buffer, target.offset, Person.SIZE);
  bytes.fill(0xee);
  try {
    codec.decode(data, h, target as never);
  } catch (err) {
    if (!(err instanceof Refused)) throw err;
    expect(bytes.every((b) => b === 0xee), 'a refused record writes nothing').toBe(true);
    return { kind: err.kind, bytes };
  }
  const zeroed = new Person();
  codec.decode(data, h, zeroed as never);
  return { kind: 'accepted', bytes: new Uint8Array(zeroed.view.buffer, zeroed.offset, Person.SIZE).slice() };
}

describe('outbound', () => {
  it('headers: schema, fingerprint, record size, channel, sequence, encoding; the JetStream id only when asked', () => {
    const codec = new RecordCodec(PersonClass, 'raw');
    const h = codec.headers('people', 2 ** 53 - 1);
    expect(Object.fromEntries([...h.keys()].map((k) => [k, h.get(k)]))).toEqual({
      'Mmbus-Schema': 'mmbus.Person',
      'Mmbus-Fingerprint': '0x71669c9ff47bbfc8',
      'Mmbus-Record-Size': '128',
      'Mmbus-Channel': 'people',
      'Mmbus-Seq': '9007199254740991',
      'Mmbus-Encoding': 'raw',
    });
    const j = new RecordCodec(PersonClass, 'json').headers('people', 7, messageId('host-a', 'people', 1764000000123, 7));
    expect(j.get('Mmbus-Encoding')).toBe('json');
    expect(j.get('Nats-Msg-Id')).toBe('host-a/people/1764000000123/7');
  });

  it('payloads: the record bytes, or toObject() as JSON', () => {
    const p = new Person().assign({ index: 2n ** 62n, name: 'Ada', age: 36 });
    const bytes = new Uint8Array(p.view.buffer, p.offset, Person.SIZE);
    expect(new RecordCodec(PersonClass, 'raw').payload(p as never, bytes)).toBe(bytes);
    const json = new TextDecoder().decode(new RecordCodec(PersonClass, 'json').payload(p as never, bytes));
    expect(json).toBe('{"index":"4611686018427387904","name":"Ada","age":36}');
  });
});

describe('inbound raw', () => {
  const codec = new RecordCodec(PersonClass, 'raw');
  const good = person(5n, 'Grace', 85);

  it('a record with the channel layout’s headers is written byte for byte', () => {
    expect(decode(codec, good, hdrs(rawHeaders))).toEqual({ kind: 'accepted', bytes: good });
    // what the bridge itself sends is accepted as is
    expect(decode(codec, good, codec.headers('people', 1)).kind).toBe('accepted');
  });

  it.each([
    ['no headers at all', undefined, good, 'header'],
    ['no fingerprint', { [HEADER.recordSize]: '128' }, good, 'header'],
    ['no record size', { [HEADER.fingerprint]: hex64(Person.FINGERPRINT) }, good, 'header'],
    ['a fingerprint without 0x', { ...rawHeaders, [HEADER.fingerprint]: Person.FINGERPRINT.toString(16) }, good, 'header'],
    ['a record size that is not a number', { ...rawHeaders, [HEADER.recordSize]: '128 B' }, good, 'header'],
    ['another layout’s fingerprint', { ...rawHeaders, [HEADER.schema]: '', [HEADER.fingerprint]: hex64(PointUpdate.FINGERPRINT) }, good, 'fingerprint'],
    ['another schema', { ...rawHeaders, [HEADER.schema]: 'mmbus.PointUpdate' }, good, 'schema'],
    ['a record size header of 64', { ...rawHeaders, [HEADER.recordSize]: '64' }, good, 'size'],
    ['a payload of 127 bytes', rawHeaders, good.subarray(0, 127), 'size'],
    ['a payload of 129 bytes', rawHeaders, new Uint8Array(129), 'size'],
    ['an empty payload', rawHeaders, new Uint8Array(0), 'size'],
    ['JSON on a raw route', { ...rawHeaders, [HEADER.encoding]: 'json' }, good, 'encoding'],
  ])('refused: %s', (_what, h, data, kind) => {
    expect(decode(codec, data, h ? hdrs(h) : undefined).kind).toBe(kind);
  });
});

describe('inbound JSON', () => {
  const codec = new RecordCodec(PersonClass, 'json');
  const body = enc.encode('{"index":"9007199254740993","name":"Ada","age":36}');

  it('accepted without headers, or with headers that agree; 64-bit integers exact', () => {
    const expected = person(9007199254740993n, 'Ada', 36);
    expect(decode(codec, body)).toEqual({ kind: 'accepted', bytes: expected });
    expect(decode(codec, body, hdrs({ ...rawHeaders, [HEADER.encoding]: 'json' })).kind).toBe('accepted');
  });

  it.each([
    ['another layout’s fingerprint', { [HEADER.fingerprint]: hex64(PointUpdate.FINGERPRINT) }, body, 'fingerprint'],
    ['raw on a JSON route', { [HEADER.encoding]: 'raw' }, body, 'encoding'],
    ['an unknown field', {}, enc.encode('{"index":"1","name":"A","age":1,"x":0}'), 'json-field'],
    ['an age of 300', {}, enc.encode('{"index":"1","name":"A","age":300}'), 'json-range'],
    ['the record bytes', {}, person(1n, 'A', 1), 'json-syntax'],
  ])('refused: %s', (_what, h, data, kind) => {
    expect(decode(codec, data, hdrs(h)).kind).toBe(kind);
  });
});
