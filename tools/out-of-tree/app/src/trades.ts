// The trades both publishers write (this one and c/publisher.c) and the checksum over them.
import { Side, type Trade } from './generated/index.js';

export function ticker(id: bigint): string {
  return `T${id % 97n}`;
}

/** Trade i: id i, price i/4, qty i % 1000, every third one a sale, ticker T<i % 97>. */
export function fill(t: Trade, i: number): void {
  t.idNumber = i;
  t.price = i / 4;
  t.qty = i % 1000;
  t.side = i % 3 === 0 ? Side.Sell : Side.Buy;
  t.ticker = ticker(BigInt(i));
}

/** The running checksum: sum of id * 1000003 + qty * 31 + side + price * 4, modulo 2^64. */
export function digest(sum: bigint, t: Trade): bigint {
  return BigInt.asUintN(64, sum + t.id * 1000003n + BigInt(t.qty) * 31n + BigInt(t.side) + BigInt(t.price * 4));
}
