import type { Group } from './types';

/**
 * A queue's idle groups, the one idle longest first (LRU): a list linked through the groups themselves
 * (Group.idlePrev / idleNext). With many groups each message makes its group leave the list and come
 * back at its end; a Set did that with two hash-table updates per message and, as deletions left holes
 * in its table, a rebuild every so many messages: the largest share of what groups cost per message
 * (interop/bench/profile.mjs --groups 10000 --consumers 8). The links also cost less memory per group
 * than a Set entry.
 */
export class IdleList {
  private oldest: Group | null = null;
  private newest: Group | null = null;
  private count = 0;

  get size(): number {
    return this.count;
  }

  has(group: Group): boolean {
    return group.idlePrev !== null || this.oldest === group;
  }

  /** Appends the group as the newest; a group already listed stays where it is. */
  add(group: Group): void {
    if (this.has(group)) return;
    group.idlePrev = this.newest;
    group.idleNext = null;
    if (this.newest === null) this.oldest = group;
    else this.newest.idleNext = group;
    this.newest = group;
    this.count++;
  }

  delete(group: Group): void {
    if (!this.has(group)) return;
    if (group.idlePrev === null) this.oldest = group.idleNext;
    else group.idlePrev.idleNext = group.idleNext;
    if (group.idleNext === null) this.newest = group.idlePrev;
    else group.idleNext.idlePrev = group.idlePrev;
    group.idlePrev = null;
    group.idleNext = null;
    this.count--;
  }

  /** Oldest first. The group just yielded may be deleted meanwhile; others may not. */
  *[Symbol.iterator](): IterableIterator<Group> {
    for (let group = this.oldest; group !== null; ) {
      const next = group.idleNext;
      yield group;
      group = next;
    }
  }
}
