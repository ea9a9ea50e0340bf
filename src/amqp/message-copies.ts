/**
 * A message that arrived in one transfer frame is a view into the socket read that carried it (up to
 * 64 KiB, with the frames of other messages). Kept as it is, a queued message would keep that whole
 * read in memory: a backlog of 100-byte messages would hold hundreds of times its size, and
 * maxMemoryBytes, which counts message sizes, would not see it. So a message that is only a small part
 * of its read is copied out of it: small ones, the common case, into a slab shared with the messages
 * after it (one allocation for many messages), larger ones into a buffer of their own. A message that
 * is at least half of the memory it sits in is kept where it is, never copied: it holds at most its own
 * size again.
 *
 * A slab stays in memory while any message copied into it does, so its size bounds what one long-queued
 * small message can hold besides itself.
 */
const SLAB_BYTES = 16 * 1024;
/** Messages up to this size share slabs; above it, each gets its own buffer. */
const SHARED_SLAB_MAX_BYTES = 2 * 1024;

let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let slabUsed = 0;

/** The message's bytes, in memory of their own unless they are most of the memory they are in. */
export function detachFromRead(message: Buffer): Buffer {
  if (2 * message.length >= message.buffer.byteLength) return message;
  if (message.length > SHARED_SLAB_MAX_BYTES) return Buffer.from(message);
  if (slabUsed + message.length > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    slabUsed = 0;
  }
  const copy = slab.subarray(slabUsed, slabUsed + message.length);
  message.copy(copy);
  slabUsed += message.length;
  return copy;
}
