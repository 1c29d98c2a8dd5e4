// The host reads numbers the way every other front door does: one formatter, in src/protocol.
export { compact, duration, megabytes } from '../protocol/format';
