// Shared by the benchmark's child processes: the 128-byte Person records every case moves (index i,
// name person-i, age i % 100), the checksum over the indexes (+0 -1 +2 -3 ...), CPU and clock readings.
import { Person } from '@mmbus/messages';

export const recordBytes = (i: number, into: Person = new Person()): Uint8Array => {
  into.assign({ index: BigInt(i), name: `person-${i}`, age: i % 100 });
  return new Uint8Array(into.view.buffer, into.view.byteOffset + into.offset, Person.SIZE);
};

/** The index of a Person record (its first 8 bytes, little-endian; exact below 2^53). */
export function indexOf(data: Uint8Array): number {
  const v = new DataView(data.buffer, data.byteOffset, 8);
  return v.getUint32(4, true) * 4294967296 + v.getUint32(0, true);
}

export const signed = (i: number): number => (i % 2 === 0 ? i : -i);
export const expectedChecksum = (n: number): number => (n % 2 === 0 ? -(n / 2) : (n - 1) / 2);
export const nowNs = (): number => Number(process.hrtime.bigint());
export const cpuUs = (): number => {
  const c = process.cpuUsage();
  return c.user + c.system;
};
export const report = (o: object): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

/** A child ends when the harness goes away (stdin closes), whatever it is waiting for. */
export function exitWithParent(): void {
  process.stdin.on('end', () => process.exit(3));
  process.stdin.on('error', () => process.exit(3));
  process.stdin.resume();
}
