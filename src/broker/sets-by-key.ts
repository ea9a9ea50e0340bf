/**
 * Sets of values by key (producers waiting for room per queue, producer links per target queue): a value
 * is added with a way to remove it again, and a key whose set empties is dropped, so that keys nobody
 * waits on do not accumulate in a long-running broker.
 */
export class SetsByKey<K, V> {
  private readonly sets = new Map<K, Set<V>>();

  /** How many keys have values. */
  get size(): number {
    return this.sets.size;
  }

  keys(): K[] {
    return [...this.sets.keys()];
  }

  /** Adds `value` under `key`; returns how to remove it (a no-op once it was taken). */
  add(key: K, value: V): () => void {
    let set = this.sets.get(key);
    if (!set) {
      set = new Set();
      this.sets.set(key, set);
    }
    set.add(value);
    const added = set;
    return () => {
      added.delete(value);
      if (added.size === 0 && this.sets.get(key) === added) this.sets.delete(key);
    };
  }

  /** Removes every value under `key` and returns them. */
  take(key: K): V[] {
    const set = this.sets.get(key);
    if (!set) return [];
    this.sets.delete(key);
    return [...set];
  }
}
