// `mmbus serve`: the web gateway of @mmbus/web over a channel directory, until Ctrl-C (or SIGTERM).
import { MESSAGE_TYPES } from '@mmbus/messages';
import type { GeneratedType } from '@mmbus/web';

import { CliError, describeError, stopSignal, type DirOption } from '../common.js';
import { channelDir } from './open.js';

export interface ServeOptions extends DirOption {
  host: string;
  port: number;
  token?: string;
  schema?: string[];
  fps?: number;
}

export async function serveCommand(dirArg: string | undefined, opts: ServeOptions): Promise<number> {
  const dir = channelDir(opts, dirArg);
  const { startGateway } = await import('@mmbus/web');
  // the token: the option, else $MMBUS_WEB_TOKEN (kept out of the process list)
  const token = opts.token ?? process.env['MMBUS_WEB_TOKEN'] ?? undefined;
  let gateway;
  try {
    gateway = await startGateway({
      dir,
      host: opts.host,
      port: opts.port,
      // channels that describe their records need no type; these serve the others of this repo's schemas
      types: MESSAGE_TYPES as readonly GeneratedType[],
      schemas: opts.schema ?? [],
      ...(token ? { token } : {}),
      ...(opts.fps !== undefined ? { fps: opts.fps } : {}),
    });
  } catch (err) {
    throw new CliError(`serve: ${describeError(err)}`);
  }
  const { signal, dispose } = stopSignal();
  process.stdout.write(`serving ${dir}\n${gateway.url}\n`);
  await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  dispose();
  await gateway.close();
  return 0;
}
