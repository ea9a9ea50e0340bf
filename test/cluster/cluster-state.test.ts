import { describe, expect, test } from 'vitest';
import { ClusterState, noChanges } from '../../src/cluster/cluster-state';
import { ClusterKeys, encodeRecord, type StoreRecord } from '../../src/cluster/etcd-records';
import { LeaseGuard, FencedError } from '../../src/cluster/lease-guard';

const keys = new ClusterKeys('/convoy/');

function store(owner: string, ownerIncarnation: string): string {
  const record: StoreRecord = { origin: owner, dir: `/data/${owner}/store-${owner}-1`, owner, ownerIncarnation, pendingReleases: [] };
  return encodeRecord(record);
}

describe('ClusterState: the node copy of etcd', () => {
  test('a queue lives where its store owner lives; a store whose owner life ended is down', () => {
    const state = new ClusterState(keys);
    const changes = noChanges();
    state.apply(keys.node('n1'), encodeRecord({ incarnation: '11', advertise: '10.0.0.1:5672' }), 2n, changes);
    state.apply(keys.store('s1'), store('n1', '11'), 3n, changes);
    state.apply(keys.queue('orders'), encodeRecord({ store: 's1' }), 4n, changes);
    expect(state.locate('nope')).toEqual({ state: 'unknown' });
    const live = state.locate('orders');
    expect(live.state).toBe('live');
    expect(live.state === 'live' && live.node).toEqual({ nodeId: 'n1', incarnation: '11', host: '10.0.0.1', port: 5672 });
    // n1 starts again: a new life; its old store is orphaned until someone takes it over.
    state.apply(keys.node('n1'), encodeRecord({ incarnation: '12', advertise: '10.0.0.1:5672' }), 5n, changes);
    expect(state.locate('orders')).toEqual({ state: 'down', store: 's1' });
    expect(changes.nodesDown).toEqual([{ nodeId: 'n1', incarnation: '11' }]);
    expect(changes.queues).toEqual(['orders']);
    expect(changes.topology).toBe(true);
  });

  test('an older revision never overwrites a newer one (a transaction answer and its watch event cross)', () => {
    const state = new ClusterState(keys);
    const changes = noChanges();
    state.apply(keys.node('n2'), encodeRecord({ incarnation: '21', advertise: '[::1]:5673' }), 2n, changes);
    state.apply(keys.store('s1'), store('n2', '21'), 9n, changes);
    state.apply(keys.store('s1'), store('n1', '11'), 7n, changes);
    expect(state.store('s1')!.record.owner).toBe('n2');
    expect(state.store('s1')!.revision).toBe(9n);
    expect(state.node('n2')).toEqual({ nodeId: 'n2', incarnation: '21', host: '::1', port: 5673 });
    state.apply(keys.node('n2'), null, 10n, changes);
    state.apply(keys.node('n2'), encodeRecord({ incarnation: '21', advertise: '[::1]:5673' }), 2n, changes);
    expect(state.node('n2')).toBeNull();
    expect(state.isOrphaned(state.store('s1')!)).toBe(true);
  });

  test('registered connections: counted per life of the node they go to; a release is remembered with its revision', () => {
    const state = new ClusterState(keys);
    const changes = noChanges();
    const first = keys.connection('11', 'n2', '1');
    state.apply(first, '{}', 3n, changes);
    state.apply(keys.connection('11', 'n3', '1'), '{}', 4n, changes);
    state.apply(keys.connection('12', 'n3', '2'), '{}', 5n, changes);
    expect(state.openConnectionsTo('11')).toBe(2);
    expect(state.releasedSince(first, 3n)).toBe(false);
    state.apply(first, null, 6n, changes);
    expect(changes.connectionsReleased).toEqual([first]);
    expect(state.openConnectionsTo('11')).toBe(1);
    expect(state.releasedSince(first, 5n)).toBe(true);
    expect(state.releasedSince(first, 6n)).toBe(false);
  });

  test('keys that are not ours (another writer under the prefix) are ignored', () => {
    const state = new ClusterState(keys);
    state.apply(keys.store('junk'), 'not json', 2n, noChanges());
    state.apply(keys.queue('q'), '{"store": 5}', 3n, noChanges());
    expect(state.store('junk')).toBeNull();
    expect(state.locate('q')).toEqual({ state: 'unknown' });
  });
});

describe('LeaseGuard: self-fencing by the monotonic clock', () => {
  test('valid for the TTL less a tenth (at least 500 ms) after the send of the last acknowledged keep-alive', () => {
    let now = 0;
    const fenced: string[] = [];
    const guard = new LeaseGuard(10_000, (reason) => fenced.push(reason), () => now);
    expect(guard.windowMs).toBe(9000);
    expect(new LeaseGuard(2000, () => undefined).windowMs).toBe(1500);
    expect(guard.valid()).toBe(false);
    guard.renewed(100);
    now = 9099;
    expect(guard.valid()).toBe(true);
    guard.check();
    // An answer to an older keep-alive does not shorten the window.
    guard.renewed(50);
    now = 9100;
    expect(guard.valid()).toBe(false);
    expect(() => guard.check()).toThrow(FencedError);
    expect(fenced).toHaveLength(1);
    expect(fenced[0]).toContain('9000 ms ago');
    // Once fenced, never valid again, and fenced once.
    guard.renewed(9100);
    expect(guard.valid()).toBe(false);
    expect(() => guard.check()).toThrow(FencedError);
    expect(fenced).toHaveLength(1);
  });
});
