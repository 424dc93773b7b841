// doctor on damaged cursors and foreign schemas (the file is edited as docs/format.md lays it out).
import { openSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

import { openChannel } from '@mmbus/core';
import { Person } from '@mmbus/messages';
import { layoutCodec } from '../src/index.ts';
import { cli, SCHEMAS, useScratchDir } from './helpers.ts';
import { loadSchemas, recordLayout, type StructDef } from '@mmbus/runtime/schema';

let dir: string;
useScratchDir((d) => (dir = d));

/** docs/format.md §4: subscriber slot i at 4096 + i * 128, its cursor (u64) at +8. */
function setCursor(channel: string, slot: number, cursor: bigint): void {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(cursor);
  const fd = openSync(join(dir, `${channel}.db`), 'r+');
  writeSync(fd, b, 0, 8, 4096 + slot * 128 + 8);
  closeSync(fd);
}

it('a cursor beyond the head is an error; a lapped subscriber a warning', async () => {
  const ch = openChannel('people', Person, { dir, capacity: 16 });
  ch.subscribe({ name: 'away' }).close(); // durable, offline: cursor 0 in slot 0
  for (let i = 0; i < 40; i++) ch.publish({ index: BigInt(i), name: 'x' });
  ch.close();
  const lapped = await cli(['doctor', dir]);
  expect(lapped.code).toBe(0);
  expect(lapped.stdout).toContain("warning  people: subscriber 'away' (pid 0, offline) is 40 records behind, more than the ring holds (16): it has been lapped and loses at least 24 records");

  setCursor('people', 0, 1000n);
  const r = await cli(['doctor', dir]);
  expect(r.code).toBe(1);
  expect(r.stdout).toMatch(/error\s+people: subscriber 'away' \(pid \d+\) has cursor 1000, beyond the last published record \(head 40\): the cursor is corrupt/);
});

it('schemas this repo does not know: fine when the file describes its records, a warning when not; another version of a known one: a warning', async () => {
  const v2 = join(dir, 'person-v2.fbs');
  writeFileSync(v2, 'namespace mmbus;\nstruct Person { index: long; age: ubyte; }\n');
  const lab = join(dir, 'lab.fbs');
  writeFileSync(lab, 'namespace lab;\nstruct Sample { a: int; }\n');
  expect((await cli(['publish', 'old', '-d', dir, '--schema', v2, '--type', 'mmbus.Person', '--json', '{"age":3}'])).code).toBe(0);
  expect((await cli(['publish', 'lab', '-d', dir, '--schema', lab, '--type', 'lab.Sample', '--json', '{"a":3}'])).code).toBe(0);
  // a file without a layout: a C publisher of an older libmmbus, or describe: false
  const def = loadSchemas([lab]).schemas[0]!.decls.find((d): d is StructDef => d.kind === 'struct')!;
  const codec = layoutCodec(recordLayout(def), lab);
  openChannel('bare', codec.type, { dir, describe: false }).close();
  const r = await cli(['doctor', dir]);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/warning\s+bare: schema lab\.Sample \(fingerprint 0x[0-9a-f]{16}\) is not one of this repo's message types and the file does not describe its records/);
  expect(r.stdout).not.toMatch(/warning\s+lab:/);
  expect(r.stdout).toMatch(/warning\s+old: schema mmbus\.Person has fingerprint 0x[0-9a-f]{16}, but this repo's mmbus\.Person has 0x[0-9a-f]{16}: the channel was made with another version of the schema/);
  expect(r.stdout).toContain('0 errors, 2 warnings');
  // the described file decodes as it is, without its schema; this repo's Person is refused as --schema
  expect((await cli(['tail', 'old', '-d', dir, '--json'])).stdout).toBe('{"seq":0,"record":{"index":"0","age":3}}\n');
  const tail = await cli(['tail', 'old', '-d', dir, '--schema', join(SCHEMAS, 'person.fbs')]);
  expect(tail.code).toBe(1);
  expect(tail.stderr).toContain('schema mismatch');
  expect((await cli(['tail', 'old', '-d', dir, '--schema', v2, '--json'])).stdout).toBe('{"seq":0,"record":{"index":"0","age":3}}\n');
});
