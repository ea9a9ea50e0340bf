import type { SessionInternals } from './sessions';

/**
 * A link name identifies a link in one direction (AMQP 1.0 2.6.1): Qpid Proton names both its sender
 * and its receiver for a queue `<container>-<address>`. rhea keys a session's links by name alone and
 * fails the connection on the second attach; here the session keys them by role and name.
 */
export function keyLinksByRoleAndName(session: SessionInternals): void {
  const keyOf = (name: string, weSend: boolean): string => `${weSend ? 'sender' : 'receiver'}:${name}`;
  session.on_attach = (frame) => {
    const { name, role, handle } = frame.performative;
    // role true: the peer is the receiver, so we are the sender.
    const key = keyOf(name, role);
    let link = session.links[key];
    if (!link) {
      link = role ? session.create_sender(name) : session.create_receiver(name);
      if (session.links[name] === link) delete session.links[name];
      session.links[key] = link;
    }
    session.remote.handles[handle] = link;
    (link as unknown as { on_attach(f: unknown): void }).on_attach(frame);
    (link as unknown as { remote: { attach: unknown } }).remote.attach = frame.performative;
  };
  session.remove_link = (link) => {
    const linkInternals = link as unknown as { name: string; remote: { handle: number }; local: { handle: number } };
    delete session.remote.handles[linkInternals.remote.handle];
    delete session.local.handles[linkInternals.local.handle];
    delete session.links[keyOf(linkInternals.name, link.is_sender())];
  };
}
