import type { Command } from '../core/types';
import type { BrokerRuntime } from '../broker/runtime';
import type { Logger } from '../broker/logger';
import type { ConsumerBackend, ConsumerLink, LinkEnd } from './consumer-link';

export type AttachCommand = Extract<Command, { type: 'attach' }>;

/** A consumer link served by this node's own dispatch core. */
export class CoreConsumer implements ConsumerBackend {
  constructor(
    protected readonly runtime: BrokerRuntime,
    readonly consumerId: string,
    protected readonly logger: Logger,
  ) {}

  credit(credit: number, drain: boolean): void {
    this.runtime.execute({ type: 'credit', consumerId: this.consumerId, credit, drain });
  }

  settle(deliveryId: number, outcome: Parameters<ConsumerBackend['settle']>[1]): void {
    this.runtime.execute({ type: 'settle', consumerId: this.consumerId, deliveryId, outcome });
  }

  /** Attaches `link` to the core as the consumer `command` describes; `client` names it for operators. */
  serve(link: ConsumerLink, command: AttachCommand, client: string): void {
    link.serveFrom(this);
    this.runtime.attachConsumer(command, link, client);
  }

  /** Unsettled messages go back to the queue, then groups and exclusivity pass on (README). */
  detach(_end: LinkEnd): void {
    this.runtime.detachConsumer(this.consumerId);
    this.logger.debug({ consumer: this.consumerId }, 'consumer detached');
  }
}
