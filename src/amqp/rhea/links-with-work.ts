import type { SessionInternals } from './sessions';

/** What of rhea's link (link.js) this patch reads, wraps or watches. */
interface LinkInternals {
  state: { open(): boolean; close(): boolean; has_settled(): boolean; local_open: boolean };
  issue_flow: boolean;
  local: { handle: number };
  _process(): void;
  is_open(): boolean;
  sendable(): boolean;
  dispatch(event: string, context: unknown): boolean;
  _context(): unknown;
}

/** rhea's session (session.js) as far as this patch replaces or calls it. */
interface SessionProcessInternals {
  state: { need_open(): boolean; need_close(): boolean; has_settled(): boolean };
  local: { begin: unknown; end: unknown; handles: Record<number, unknown> };
  outgoing: { process(): void; deliveries: { available(): number } };
  incoming: { process(session: unknown): void };
  output(frame: unknown): void;
  each_sender(action: (sender: LinkInternals) => void, filter: (sender: LinkInternals) => boolean): void;
  create_link(name: string, constructor: unknown, options: unknown): LinkInternals;
  remove_link(link: unknown): void;
  _process(): void;
}

/**
 * rhea processes a session by asking every one of its links whether it has a frame to write (attach,
 * flow, detach), each time anything on the connection moves; and it finds a new link's handle by
 * walking up from 0. With many links on a session each attach cost time in proportion to the links
 * already there: 10,000 attaches on one connection took 49.6 s and stalled every other client.
 *
 * Here each session keeps the links that may have something to write: a link joins when rhea opens or
 * closes it locally (EndpointState.open/close) or asks for a flow (issue_flow), and leaves once rhea
 * has written what it had. Freed handles are kept for reuse (AMQP 1.0 2.6.2: any unused handle up to
 * handle-max will do). Everything else of Session.prototype._process is kept as it is.
 */
export function processOnlyLinksWithWork(sessionToPatch: SessionInternals): void {
  const session = sessionToPatch as unknown as SessionProcessInternals;
  const withWork = new Set<LinkInternals>();
  const freeHandles: number[] = [];
  let nextHandle = 0;

  const hasWork = (link: LinkInternals): boolean => !link.state.has_settled() || (link.issue_flow && link.state.local_open);

  const watch = (link: LinkInternals): void => {
    const state = link.state;
    const open = state.open.bind(state);
    const close = state.close.bind(state);
    state.open = () => {
      const changed = open();
      if (changed) withWork.add(link);
      return changed;
    };
    state.close = () => {
      const changed = close();
      if (changed) withWork.add(link);
      return changed;
    };
    let issueFlow = link.issue_flow;
    Object.defineProperty(link, 'issue_flow', {
      configurable: true,
      enumerable: true,
      get: () => issueFlow,
      set: (value: boolean) => {
        issueFlow = value;
        if (value) withWork.add(link);
      },
    });
    withWork.add(link);
  };

  // session.js create_link, with the handle taken from the freed ones or the next never used.
  session.create_link = function (this: SessionProcessInternals & { links: Record<string, unknown> }, name, constructor, options) {
    const handle = freeHandles.length > 0 ? freeHandles.pop()! : nextHandle++;
    const link = new (constructor as new (session: unknown, name: string, handle: number, options: unknown) => LinkInternals)(this, name, handle, options);
    this.links[name] = link;
    this.local.handles[handle] = link;
    watch(link);
    return link;
  };

  const removeLink = session.remove_link.bind(session);
  session.remove_link = (link) => {
    const internals = link as LinkInternals;
    const owned = session.local.handles[internals.local.handle] === link;
    removeLink(link);
    withWork.delete(internals);
    if (owned) freeHandles.push(internals.local.handle);
  };

  session._process = function (this: SessionProcessInternals) {
    do {
      if (this.state.need_open()) this.output(this.local.begin);
      const wasBlocked = this.outgoing.deliveries.available() === 0;
      this.outgoing.process();
      if (wasBlocked && this.outgoing.deliveries.available()) this.each_sender(notifySendable, isSenderSendable);
      this.incoming.process(this);
      for (const link of withWork) {
        link._process();
        if (!hasWork(link)) withWork.delete(link);
      }
      if (this.state.need_close()) this.output(this.local.end);
    } while (!this.state.has_settled());
  };
}

function notifySendable(sender: LinkInternals): void {
  sender.dispatch('sendable', sender._context());
}

function isSenderSendable(sender: LinkInternals): boolean {
  return sender.is_open() && sender.sendable();
}
