import { describe, expect, test } from 'vitest';
import { detachFromRead } from '../../src/amqp/message-copies';

/** A socket read of `readBytes` holding a message of `messageBytes` at `offset`. */
function messageInRead(readBytes: number, messageBytes: number, offset = 100): Buffer {
  const read = Buffer.alloc(readBytes, 7);
  read.fill(9, offset, offset + messageBytes);
  return read.subarray(offset, offset + messageBytes);
}

describe('detachFromRead', () => {
  test('a small message is copied out of its read into a shared slab of at most 16 KiB', () => {
    const inRead = messageInRead(65536, 100);
    const copy = detachFromRead(inRead);
    expect(copy.equals(inRead)).toBe(true);
    expect(copy.buffer).not.toBe(inRead.buffer);
    expect(copy.buffer.byteLength).toBeLessThanOrEqual(16 * 1024);
    const next = detachFromRead(messageInRead(65536, 1000));
    expect(next.buffer).toBe(copy.buffer);
  });

  test('a larger message that is a small part of its read gets memory of its own, exactly its size', () => {
    const inRead = messageInRead(65536, 20_000);
    const copy = detachFromRead(inRead);
    expect(copy.equals(inRead)).toBe(true);
    expect(copy.buffer.byteLength).toBe(20_000);
  });

  test('a message that is at least half of the memory it sits in is kept where it is', () => {
    const inRead = messageInRead(65536, 40_000);
    expect(detachFromRead(inRead)).toBe(inRead);
    const own = Buffer.allocUnsafeSlow(1000);
    expect(detachFromRead(own)).toBe(own);
  });

  test('copies never overlap: a slab is filled once, front to back', () => {
    const copies = Array.from({ length: 100 }, (_, i) => detachFromRead(messageInRead(65536, 300 + i).fill(i)));
    copies.forEach((copy, i) => expect(copy.every((byte) => byte === i)).toBe(true));
  });
});
