package main

import (
	"context"
	"fmt"

	"github.com/Azure/go-amqp"
)

// ownerClose: the receiver that owns a group holds three of its messages unsettled and goes away
// (variant "link": it detaches; "connection": its connection closes). The other receiver gets those
// three first, in order, with delivery-count 1, and then the group's next message with count 0.
func ownerClose(ctx context.Context, r *run) (map[string]any, error) {
	queue := r.queue + ".owner-close." + r.variant
	ownerConn, ownerSession, err := session(ctx, r, nil)
	if err != nil {
		return nil, err
	}
	defer ownerConn.Close()
	owner, err := ownerSession.NewReceiver(ctx, queue, &amqp.ReceiverOptions{Credit: 10})
	if err != nil {
		return nil, err
	}
	conn, s, err := session(ctx, r, nil)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	sender, err := s.NewSender(ctx, queue, nil)
	if err != nil {
		return nil, err
	}
	for _, body := range []string{"G1", "G2", "G3", "G4"} {
		if err := sendAll(ctx, sender, grouped("G", body)); err != nil {
			return nil, err
		}
	}
	held, err := receiveN(ctx, owner, 4)
	if err != nil {
		return nil, fmt.Errorf("owner: %w", err)
	}
	if err := expectBodies("owner", held, "G1", "G2", "G3", "G4"); err != nil {
		return nil, err
	}
	if err := owner.AcceptMessage(ctx, held[0]); err != nil {
		return nil, err
	}
	next, err := s.NewReceiver(ctx, queue, &amqp.ReceiverOptions{Credit: 10})
	if err != nil {
		return nil, err
	}
	if err := expectNothing(ctx, next, "the second receiver while the owner lives"); err != nil {
		return nil, err
	}
	switch r.variant {
	case "link":
		err = owner.Close(ctx)
	case "connection":
		err = ownerConn.Close()
	default:
		return nil, fmt.Errorf("variant must be link or connection, got %q", r.variant)
	}
	if err != nil {
		return nil, fmt.Errorf("closing the owner's %s: %w", r.variant, err)
	}
	returned, err := receiveN(ctx, next, 3)
	if err != nil {
		return nil, fmt.Errorf("after the owner closed: %w", err)
	}
	if err := expectBodies("the new owner", returned, "G2", "G3", "G4"); err != nil {
		return nil, err
	}
	if err := expectCounts("the new owner", returned, 1, 1, 1); err != nil {
		return nil, err
	}
	if err := sendAll(ctx, sender, grouped("G", "G5")); err != nil {
		return nil, err
	}
	later, err := receiveN(ctx, next, 1)
	if err != nil {
		return nil, err
	}
	if err := expectBodies("the new owner", later, "G5"); err != nil {
		return nil, err
	}
	if err := expectCounts("the new owner", later, 0); err != nil {
		return nil, err
	}
	return map[string]any{"redelivered": len(returned)}, acceptAll(ctx, next, append(returned, later...))
}
