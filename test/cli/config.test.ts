import { describe, expect, test } from 'vitest';
import { resolveBrokerOptions } from '../../src/config/options';
import { topicMatcher } from '../../src/config/topic-patterns';

describe('config validation', () => {
  test('bounded integers name the field and the bounds', () => {
    expect(() => resolveBrokerOptions({ maxFrameBytes: 100 })).toThrow(/maxFrameBytes: expected an integer from 512 to 4294967295/);
    expect(() => resolveBrokerOptions({ channelMax: 70000 })).toThrow(/channelMax: expected an integer from 1 to 65535/);
    expect(() => resolveBrokerOptions({ segmentBytes: 1024 })).toThrow(/segmentBytes: expected an integer from 65536/);
    expect(() => resolveBrokerOptions({ port: -1 })).toThrow(/port: expected an integer from 0 to 65535/);
    expect(() => resolveBrokerOptions({ fsyncPolicy: 'sometimes' as never })).toThrow(/fsyncPolicy: expected one of batch, per-message, interval, none/);
  });

  test('valid options pass and are frozen', () => {
    const options = resolveBrokerOptions({ maxFrameBytes: 512, channelMax: 65535, queues: { 'a.*': { maxGroups: 5 } } });
    expect(options.maxFrameBytes).toBe(512);
    expect(Object.isFrozen(options)).toBe(true);
  });
});

describe('topics option', () => {
  test('names and patterns; a bad entry names its index', () => {
    expect(resolveBrokerOptions({ topics: ['prices.*', 'news'] }).topics).toEqual(['prices.*', 'news']);
    expect(resolveBrokerOptions({}).topics).toEqual([]);
    expect(() => resolveBrokerOptions({ topics: 'prices' as never })).toThrow(/topics: expected an array of topic names or patterns, got "prices"/);
    expect(() => resolveBrokerOptions({ topics: ['ok', ''] })).toThrow(/topics\[1\]: expected a non-empty string, got ""/);
    expect(() => resolveBrokerOptions({ topics: ['a::b'] })).toThrow(/topics\[0\]: expected a name without "::"/);
  });

  test('the matcher: exact names and `*` patterns', () => {
    const isTopic = topicMatcher(['news', 'prices.*']);
    expect(['news', 'prices.eu', 'prices.eu.north'].every(isTopic)).toBe(true);
    expect(['prices', 'newsroom', 'orders'].some(isTopic)).toBe(false);
  });
});

describe('limit options (README "Limits")', () => {
  test('defaults', () => {
    const options = resolveBrokerOptions({});
    expect({
      handshakeTimeoutMs: options.handshakeTimeoutMs,
      maxConnections: options.maxConnections,
      maxConnectionsPerAddress: options.maxConnectionsPerAddress,
      maxLinksPerSession: options.maxLinksPerSession,
      maxLinksPerConnection: options.maxLinksPerConnection,
      maxUnsettledPerLink: options.maxUnsettledPerLink,
      maxQueues: options.maxQueues,
      memoryFullPolicy: options.memoryFullPolicy,
      memoryPagingRatio: options.memoryPagingRatio,
    }).toEqual({
      handshakeTimeoutMs: 10000,
      maxConnections: 10000,
      maxConnectionsPerAddress: 1000,
      maxLinksPerSession: 1024,
      maxLinksPerConnection: 4096,
      maxUnsettledPerLink: 5000,
      maxQueues: 10000,
      memoryFullPolicy: 'block',
      memoryPagingRatio: 0.5,
    });
  });

  test('every bad value names its field', () => {
    expect(() => resolveBrokerOptions({ handshakeTimeoutMs: 0 })).toThrow('invalid configuration: handshakeTimeoutMs: expected a positive integer, got 0');
    expect(() => resolveBrokerOptions({ maxConnectionsPerAddress: 'lots' as never })).toThrow(/maxConnectionsPerAddress: expected a positive integer/);
    expect(() => resolveBrokerOptions({ maxLinksPerSession: 10_000 })).toThrow(/maxLinksPerSession: expected an integer from 1 to 8192 \(each consumer link needs one of its session's 8192 slots/);
    expect(() => resolveBrokerOptions({ memoryFullPolicy: 'drop' as never })).toThrow(/memoryFullPolicy: expected one of block, fail/);
    expect(() => resolveBrokerOptions({ memoryPagingRatio: 1.5 })).toThrow(/memoryPagingRatio: expected a number above 0 and at most 1/);
    expect(() => resolveBrokerOptions({ queues: { 'a.*': { autoDeleteDelayMs: -1 } } })).toThrow(/queues\["a.\*"\].autoDeleteDelayMs: expected an integer >= 0/);
    expect(() => resolveBrokerOptions({ queueDefaults: { maxMemoryBytes: 0 } })).toThrow(/queueDefaults.maxMemoryBytes: expected a positive integer/);
  });
});

describe('security options', () => {
  const tls = { certFile: 'server.pem', keyFile: 'server.key' };

  test('defaults: no users file, anonymous refused, no TLS, the plain port on', () => {
    const options = resolveBrokerOptions({});
    expect(options.auth).toEqual({
      usersFile: null,
      anonymousRole: null,
      failedLoginDelayMs: 1000,
      maxFailedLoginDelayMs: 30000,
      maxConnectionsPerUser: 1000,
      maxQueuesPerUser: 10000,
    });
    expect(options.roles).toEqual({});
    expect(options.tls).toBeNull();
    expect(options.port).toBe(5672);
  });

  test('the example of the issue validates; omitted role permissions grant nothing; tls gets its defaults', () => {
    const options = resolveBrokerOptions({
      auth: { usersFile: 'users.json', anonymousRole: null },
      roles: {
        app: { send: ['orders.*'], consume: ['orders.*'], browse: ['orders.*'], manage: false },
        admin: { send: ['*'], consume: ['*'], browse: ['*'], manage: true },
        writer: { send: ['x'] },
      },
      tls: { port: 5671, certFile: 'server.pem', keyFile: 'server.key', caFile: null, requireClientCert: false },
    });
    expect(options.roles.writer).toEqual({ send: ['x'], consume: [], browse: [], manage: false });
    expect(resolveBrokerOptions({ tls }).tls).toEqual({ port: 5671, ...tls, caFile: null, requireClientCert: false });
    expect(resolveBrokerOptions({ port: null, tls }).port).toBeNull();
  });

  test('auth merges key by key across layers (config file, then flags)', () => {
    const options = resolveBrokerOptions({ auth: { usersFile: 'u.json' } }, { auth: { failedLoginDelayMs: 5 } });
    expect(options.auth.usersFile).toBe('u.json');
    expect(options.auth.failedLoginDelayMs).toBe(5);
    expect(options.auth.maxFailedLoginDelayMs).toBe(30000);
  });

  test('every bad value names its field', () => {
    const bad = (input: unknown) => () => resolveBrokerOptions(input as never);
    expect(bad({ auth: { usersFile: '' } })).toThrow(/auth.usersFile: expected a non-empty string/);
    expect(bad({ auth: { userFile: 'x' } })).toThrow(/auth.userFile: expected one of the known options/);
    expect(bad({ auth: { anonymousRole: 'guest' } })).toThrow(/auth.anonymousRole: expected null or a role defined in roles \(none defined\), got "guest"/);
    expect(bad({ auth: { maxConnectionsPerUser: 0 } })).toThrow(/auth.maxConnectionsPerUser: expected a positive integer/);
    expect(bad({ auth: { failedLoginDelayMs: 100, maxFailedLoginDelayMs: 10 } })).toThrow(/auth.maxFailedLoginDelayMs: expected at least auth.failedLoginDelayMs/);
    expect(bad({ roles: { app: { send: 'orders.*' } } })).toThrow(/roles\["app"\].send: expected an array of address patterns/);
    expect(bad({ roles: { app: { send: ['ok', ''] } } })).toThrow(/roles\["app"\].send\[1\]: expected a non-empty string/);
    expect(bad({ roles: { app: { manage: 'yes' } } })).toThrow(/roles\["app"\].manage: expected true or false/);
    expect(bad({ roles: { app: { publish: [] } } })).toThrow(/roles\["app"\].publish: expected one of the known options/);
    expect(bad({ tls: { certFile: 'a.pem' } })).toThrow(/tls.keyFile: expected a PEM file name \(required with tls\)/);
    expect(bad({ tls: { ...tls, requireClientCert: true } })).toThrow(/tls.caFile: expected the CA that signs client certificates/);
    expect(bad({ tls: { ...tls, port: 70000 } })).toThrow(/tls.port: expected an integer from 0 to 65535/);
    expect(bad({ port: 5671, tls })).toThrow(/tls.port: expected a port other than the plain listener's \(5671\)/);
    expect(bad({ port: null })).toThrow(/port: expected a TCP port \(null turns the plain listener off only when tls is configured\)/);
  });
});

describe('cluster options', () => {
  const cluster = { nodeId: 'n1', etcd: 'http://10.0.0.1:2379,http://10.0.0.2:2379', advertise: '10.0.0.5:5672' };

  test('no cluster keys: a single node', () => {
    expect(resolveBrokerOptions({}).cluster).toBeNull();
  });

  test('keys merge one by one across layers; defaults fill the rest', () => {
    const options = resolveBrokerOptions({ cluster: { etcd: cluster.etcd, leaseTtlMs: 4000 } }, { cluster: { nodeId: 'n1', advertise: '[::1]:5673' } });
    expect(options.cluster).toEqual({
      nodeId: 'n1',
      etcd: ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'],
      advertise: { host: '::1', port: 5673 },
      leaseTtlMs: 4000,
      releaseTimeoutMs: 30000,
      etcdPrefix: '/convoy/',
      user: null,
      passwordFile: null,
      tls: false,
      linksPerConnection: 500,
    });
  });

  test('node id, etcd and advertise are required together, and each is checked', () => {
    expect(() => resolveBrokerOptions({ cluster: { nodeId: 'n1' } })).toThrow(/cluster\.etcd: expected a value \(a cluster node needs --node-id, --etcd and --advertise/);
    expect(() => resolveBrokerOptions({ cluster: { ...cluster, nodeId: 'n 1' } })).toThrow(/cluster\.nodeId: expected a node id/);
    expect(() => resolveBrokerOptions({ cluster: { ...cluster, etcd: 'etcd:2379' } })).toThrow(/cluster\.etcd\[0\]: expected an etcd client URL/);
    expect(() => resolveBrokerOptions({ cluster: { ...cluster, advertise: 'localhost' } })).toThrow(/cluster\.advertise: expected HOST:PORT/);
    expect(() => resolveBrokerOptions({ cluster: { ...cluster, leaseTtlMs: 2500 } })).toThrow(/cluster\.leaseTtlMs: expected a whole number of seconds/);
    expect(() => resolveBrokerOptions({ cluster: { ...cluster, leaseTtlMs: 1000 } })).toThrow(/cluster\.leaseTtlMs: expected an integer from 2000/);
    expect(() => resolveBrokerOptions({ cluster: { ...cluster, etcdPrefix: 'convoy' } })).toThrow(/cluster\.etcdPrefix/);
    expect(() => resolveBrokerOptions({ cluster: { ...cluster, nodes: 3 } as never })).toThrow(/cluster\.nodes: expected one of the known options/);
  });

  test('with a users file the nodes need a user to log in to each other as', () => {
    expect(() => resolveBrokerOptions({ auth: { usersFile: 'users.json' }, cluster })).toThrow(/cluster\.user: expected the user the nodes log in to each other as/);
    expect(resolveBrokerOptions({ auth: { usersFile: 'users.json' }, cluster: { ...cluster, user: 'node' } }).cluster!.user).toBe('node');
  });

  test('an inter-node connection carries no more links than the other nodes take sessions (channelMax + 1)', () => {
    expect(() => resolveBrokerOptions({ channelMax: 99, cluster })).toThrow(/cluster\.linksPerConnection: expected at most channelMax \+ 1 \(100\)/);
    expect(resolveBrokerOptions({ channelMax: 99, cluster: { ...cluster, linksPerConnection: 100 } }).cluster!.linksPerConnection).toBe(100);
    expect(() => resolveBrokerOptions({ cluster: { ...cluster, linksPerConnection: 0 } })).toThrow(/cluster\.linksPerConnection: expected an integer from 1/);
  });

  test('inter-node TLS needs the CA that checks the other nodes\' certificates', () => {
    expect(() => resolveBrokerOptions({ cluster: { ...cluster, tls: true } })).toThrow(/cluster\.tls: expected .*tls\.caFile/);
  });
});
