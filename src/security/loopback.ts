import { BlockList, isIPv4, isIPv6 } from 'node:net';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * Whether a client's address is a loopback address: 127.0.0.0/8 or ::1, also written as an
 * IPv4-mapped IPv6 address (how a dual-stack listener reports IPv4 clients). Without a users file
 * only these clients get in (README, "Securing Convoy").
 */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  if (isIPv4(address)) return LOOPBACK.check(address, 'ipv4');
  return isIPv6(address) && LOOPBACK.check(address, 'ipv6');
}
