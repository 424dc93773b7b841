// @mmbus/core: channels on memory-mapped files for Node.js. See docs/api.md.
export { Channel, checkChannelName, defaultDir, openChannel, unlinkChannel } from './channel.js';
export type { ChannelOptions, MessageType, RecordInput, RecordView } from './channel.js';
export { ChannelBase } from './base.js';
export type { ChannelInfo, ChannelStats, ExactChannelStats, Policy } from './base.js';
export { Batch, Subscription } from './subscription.js';
export type { AskOptions, SubscribeOptions } from './subscription.js';
export { keyRanges } from './keys.js';
export type { KeyRange, Keys } from './keys.js';
export { MmbusError } from './errors.js';
export type { MmbusErrorCode } from './errors.js';
export { ChannelInspector, inspectChannel } from './inspect.js';
