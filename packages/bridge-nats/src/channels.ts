// Which message class a route's channel holds, and opening it: the channel file's own schema name and
// fingerprint decide; a configured `type` must agree, and is needed only to create a missing channel.
import { inspectChannel, openChannel, type Channel, type ChannelOptions, type MessageType, type RecordView } from '@mmbus/core';
import { MESSAGE_TYPES } from '@mmbus/messages';
import { MmbusError } from '@mmbus/runtime';

import { BridgeError } from './errors.js';
import type { GeneratedRecord, RecordClass } from './layout.js';
import { hex64 } from './wire.js';

export type RecordChannel = Channel<GeneratedRecord & RecordView>;

/** The message classes a bridge knows: @mmbus/messages' and any the embedding program adds. */
export function knownTypes(extra: readonly RecordClass[] = []): RecordClass[] {
  return [...extra, ...(MESSAGE_TYPES as unknown as RecordClass[])];
}

function byName(types: RecordClass[], name: string): RecordClass | undefined {
  return types.find((t) => t.NAME === name) ?? types.find((t) => t.NAME.split('.').pop() === name);
}

function existing(dir: string, channel: string): { schemaName: string; fingerprint: bigint; recordSize: number } | null {
  try {
    const ins = inspectChannel(channel, dir);
    try {
      return { schemaName: ins.info.schemaName, fingerprint: ins.info.fingerprint, recordSize: ins.info.recordSize };
    } finally {
      ins.close();
    }
  } catch (err) {
    if (err instanceof MmbusError && err.code === 'MMBUS_E_NOENT') return null;
    throw err;
  }
}

/**
 * Opens a route's channel with the class of its records. A missing channel is created only when
 * the route names its `type` (with `create` options); otherwise it is a BRIDGE_E_CONFIG error.
 */
export function openRouteChannel(
  dir: string,
  channel: string,
  typeName: string | undefined,
  types: RecordClass[],
  options: ChannelOptions = {},
): RecordChannel {
  const known = types.map((t) => t.NAME).join(', ');
  const wanted = typeName === undefined ? undefined : byName(types, typeName);
  if (typeName !== undefined && !wanted) throw new BridgeError('BRIDGE_E_CONFIG', `channel '${channel}': no message type '${typeName}' (known: ${known})`);
  const file = existing(dir, channel);
  let type: RecordClass;
  if (file) {
    const t = byName(types, file.schemaName);
    if (!t || t.NAME !== file.schemaName) {
      throw new BridgeError('BRIDGE_E_SCHEMA', `channel '${channel}' holds ${file.schemaName} (${hex64(file.fingerprint)}), which the bridge does not know (known: ${known})`);
    }
    if (t.FINGERPRINT !== file.fingerprint || t.SIZE !== file.recordSize) {
      throw new BridgeError(
        'BRIDGE_E_SCHEMA',
        `channel '${channel}' holds ${file.schemaName} with fingerprint ${hex64(file.fingerprint)} (${file.recordSize} B), but the bridge's ${t.NAME} is ${hex64(t.FINGERPRINT)} (${t.SIZE} B): another layout`,
      );
    }
    if (wanted && wanted !== t) throw new BridgeError('BRIDGE_E_SCHEMA', `channel '${channel}' holds ${file.schemaName}, not ${wanted.NAME}`);
    type = t;
  } else {
    if (!wanted) {
      throw new BridgeError('BRIDGE_E_CONFIG', `channel '${channel}' does not exist in ${dir}: start its publisher first, or give the route a 'type' to create it`);
    }
    type = wanted;
  }
  return openChannel(channel, type as unknown as MessageType<GeneratedRecord & RecordView>, { ...options, dir, create: !file });
}
