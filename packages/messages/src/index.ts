// @mmbus/messages: the message types generated from schemas/*.fbs (run `npx nx run messages:codegen`).
import { Person, PointUpdate } from './generated/index.js';
import type { MessageType } from './message-type.js';

export * from './generated/index.js';
export type { MessageType } from './message-type.js';

/** Every message type of the project's schemas. */
export const MESSAGE_TYPES: readonly MessageType<Person | PointUpdate>[] = [Person, PointUpdate];
