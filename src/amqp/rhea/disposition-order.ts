import type { SessionInternals } from './sessions';

/**
 * rhea applies flow and detach frames at once but reports a consumer's dispositions on the next tick.
 * A client that accepts and then detaches (or releases and then grants credit) in one read would be seen
 * in the wrong order: an accepted message redelivered, a released one overtaken. Outcomes of outgoing
 * deliveries are reported here as their disposition frame is read, so every frame acts in wire order.
 */
export function reportDispositionsInFrameOrder(session: SessionInternals): void {
  const onDisposition = session.on_disposition.bind(session);
  session.on_disposition = (frame) => {
    onDisposition(frame);
    if (!frame.performative.role) return; // role receiver: the disposition is about our outgoing deliveries
    const updated = session.outgoing.updated;
    session.outgoing.updated = [];
    for (const delivery of updated) {
      const outcome = delivery.remote_state?.constructor.composite_type;
      if (outcome) delivery.link.dispatch(outcome, delivery.link._context({ delivery }));
      if (delivery.remote_settled) delivery.link.dispatch('settled', delivery.link._context({ delivery }));
    }
  };
}
