import { patternRegex } from '../config/patterns';
import type { RoleOptions } from '../config/security-options';

/** Permissions on addresses; `manage` (operator sources, administrative actions) has no address. */
export type AddressPermission = 'send' | 'consume' | 'browse';
export type Permission = AddressPermission | 'manage';

const ADDRESS_PERMISSIONS: readonly AddressPermission[] = ['send', 'consume', 'browse'];

/** What one logged-in client may do: the union of its roles' permissions. */
export class AccessRights {
  /** Anonymous clients on a loopback address when no users file is configured. */
  static readonly ALL = new AccessRights(null, true);

  private constructor(
    /** One regular expression per permission matching every allowed address; null: everything. */
    private readonly allowed: Readonly<Record<AddressPermission, RegExp | null>> | null,
    readonly manage: boolean,
  ) {}

  static of(roles: readonly RoleOptions[]): AccessRights {
    const allowed = {} as Record<AddressPermission, RegExp | null>;
    for (const permission of ADDRESS_PERMISSIONS) {
      const sources = roles.flatMap((role) => role[permission]).map((pattern) => patternRegex(pattern).source);
      allowed[permission] = sources.length === 0 ? null : new RegExp(sources.join('|'), 's');
    }
    return new AccessRights(allowed, roles.some((role) => role.manage));
  }

  allows(permission: AddressPermission, address: string): boolean {
    if (this.allowed === null) return true;
    return this.allowed[permission]?.test(address) ?? false;
  }

  /** Creating a queue on first use needs `send` or `consume` on its name. */
  mayCreateQueue(name: string): boolean {
    return this.allows('send', name) || this.allows('consume', name);
  }
}
