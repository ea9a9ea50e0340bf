import type { Container } from 'rhea';
import type { Logger } from '../broker/logger';
import { plainServerMechanism } from './rhea';

/** SASL (AMQP 1.0 5.3): the mechanisms a client may use to open a connection. */
export function configureSasl(container: Container, logger: Logger): void {
  const mechanisms = container.sasl_server_mechanisms as unknown as {
    enable_anonymous(): void;
    PLAIN: ReturnType<typeof plainServerMechanism>;
  };
  mechanisms.enable_anonymous();
  mechanisms.PLAIN = plainServerMechanism(() => true);
  logger.warn('SASL PLAIN accepts any user name and password: authentication is not implemented yet');
}
