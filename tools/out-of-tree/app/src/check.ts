// node dist/check.js <dir>: the other packages' APIs as an app uses them; prints one JSON line.
import { MmbusError as CoreError, openChannel } from '@mmbus/core';
import { loadSchemas } from '@mmbus/codegen';
import { MESSAGE_TYPES, Person } from '@mmbus/messages';
import { MMBUS_ERROR_CODES, MmbusError } from '@mmbus/runtime';
import { loadSchemas as readSchemas, type Model } from '@mmbus/runtime/schema';

const [dir] = process.argv.slice(2);
if (dir === undefined) throw new Error('usage: check <dir>');

const person = Person.fromObject({ index: 7n, name: 'Ada', age: 36 });
let refused: unknown;
try {
  openChannel('no/such/name', Person, { dir });
} catch (e) {
  refused = e;
}

/** The size of struct Trade as a schema reader lays it out. */
function tradeSize(load: (paths: readonly string[]) => Model): number | undefined {
  for (const schema of load(['schemas/trade.fbs']).schemas) {
    for (const d of schema.decls) if (d.kind === 'struct' && d.name === 'Trade') return d.size;
  }
  return undefined;
}

console.log(
  JSON.stringify({
    person: person.toObject().name,
    messageTypes: MESSAGE_TYPES.map((t) => t.NAME),
    sameErrorClass: CoreError === MmbusError,
    refused: refused instanceof MmbusError ? refused.code : String(refused),
    codes: MMBUS_ERROR_CODES.length,
    tradeSizeByCodegen: tradeSize(loadSchemas),
    tradeSizeByRuntime: tradeSize(readSchemas),
  }),
);
