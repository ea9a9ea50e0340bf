import type { Receiver, Sender } from 'rhea';
import type { SessionInternals } from './sessions';

/**
 * A link name identifies a link in one direction (AMQP 1.0 2.6.1): Qpid Proton names both its sender
 * and its receiver for a queue `<container>-<address>`. rhea keys a session's links by name alone and
 * fails the connection on the second attach; here the session keys them by role and name.
 *
 * rhea removes a link a tick after the peer's detach, by its handle and name. A peer that detaches and
 * attaches again under the same handle or name in one read gets a new link here (rhea re-opened the
 * detaching one, which never answered), and the late removal of the old link leaves the new one mapped.
 */
export function keyLinksByRoleAndName(session: SessionInternals): void {
  /** The key each link is filed under in session.links. */
  const keys = new WeakMap<object, string>();
  session.on_attach = (frame) => {
    const { name, role, handle } = frame.performative;
    // role true: the peer is the receiver, so we are the sender.
    const key = linkKey(name, role);
    let link: Sender | Receiver | undefined = session.links[key];
    if (link && !(link as unknown as { state: { remote_open: boolean } }).state.remote_open) {
      // Detached by the peer, removal pending: rhea still writes our detach for it from session.links.
      const retiredKey = `${key}#${(link as unknown as { local: { handle: number } }).local.handle}`;
      session.links[retiredKey] = link;
      keys.set(link, retiredKey);
      link = undefined;
    }
    if (!link) {
      link = role ? session.create_sender(name) : session.create_receiver(name);
      if (session.links[name] === link) delete session.links[name];
      session.links[key] = link;
      keys.set(link, key);
    }
    session.remote.handles[handle] = link;
    (link as unknown as { on_attach(f: unknown): void }).on_attach(frame);
    // rhea reads the handle from frame.handle, which frames do not have: removal then missed the handle.
    const remote = (link as unknown as { remote: { attach: unknown; handle: number } }).remote;
    remote.attach = frame.performative;
    remote.handle = handle;
  };
  session.remove_link = (link) => {
    const linkInternals = link as unknown as { name: string; remote: { handle: number }; local: { handle: number } };
    const key = keys.get(link) ?? linkKey(linkInternals.name, link.is_sender());
    if (session.remote.handles[linkInternals.remote.handle] === link) delete session.remote.handles[linkInternals.remote.handle];
    if (session.local.handles[linkInternals.local.handle] === link) delete session.local.handles[linkInternals.local.handle];
    if (session.links[key] === link) delete session.links[key];
  };
}

/** The key of an attached link in session.links: the broker's role, then the name. */
export function linkKey(name: string, brokerSends: boolean): string {
  return `${brokerSends ? 'sender' : 'receiver'}:${name}`;
}
