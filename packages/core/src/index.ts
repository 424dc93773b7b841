// @mmbus/core: channels on memory-mapped files for Node.js. See docs/api.md.
export { Channel, defaultDir, openChannel, unlinkChannel } from './channel.js';
export type { ChannelInfo, ChannelOptions, ChannelStats, MessageType, Policy, RecordInput, RecordView } from './channel.js';
export { Batch, Subscription } from './subscription.js';
export type { SubscribeOptions } from './subscription.js';
export { MmbusError } from './errors.js';
export type { MmbusErrorCode } from './errors.js';
export { ChannelInspector, inspectChannel } from './inspect.js';
export type { InspectedInfo } from './inspect.js';
