import type { AmqpSecurity } from '../amqp';
import type { BrokerOptions } from '../config/options';
import { Authenticator } from '../security/authenticator';
import { DEFAULT_MAX_TRACKED_ADDRESSES, LoginThrottle } from '../security/login-throttle';
import { readTlsCredentials } from '../security/tls-files';
import { UserDirectory } from '../security/user-directory';
import { UserLimits } from '../security/user-limits';
import type { Logger } from './logger';

/**
 * Builds what the AMQP layer needs to authenticate and authorise clients from the options: the users
 * file and the TLS files are read now, so a problem with either stops the start with a message
 * naming the field.
 */
export function createSecurity(options: BrokerOptions, logger: Logger): AmqpSecurity {
  const { auth } = options;
  const users =
    auth.usersFile === null
      ? null
      : UserDirectory.load(auth.usersFile, new Set(Object.keys(options.roles)), {
          reloaded: (count) => logger.info({ usersFile: auth.usersFile, users: count }, 'users file changed: reloaded'),
          reloadFailed: (error) =>
            logger.error({ usersFile: auth.usersFile, error: error.message }, 'users file changed but cannot be used: the previous users stay in force'),
        });
  return {
    authenticator: new Authenticator(users, options.roles, auth),
    throttle: new LoginThrottle({
      failedLoginDelayMs: auth.failedLoginDelayMs,
      maxFailedLoginDelayMs: auth.maxFailedLoginDelayMs,
      maxTrackedAddresses: DEFAULT_MAX_TRACKED_ADDRESSES,
    }),
    limits: new UserLimits(auth),
    now: Date.now,
    tls: options.tls && readTlsCredentials(options.tls),
  };
}
