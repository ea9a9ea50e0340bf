package main

import (
	"context"
	"fmt"

	"github.com/Azure/go-amqp"
)

// creditAndDrain: a receiver managing its own credit (AMQP 1.0 2.6.7) gets exactly as many messages
// as it granted. A drain is answered by the broker (go-amqp's DrainCredit waits for that flow) with
// the credit used up, both when the receiver has none and when credit is left but nothing is queued;
// afterwards nothing arrives until credit is granted again.
func creditAndDrain(ctx context.Context, r *run) (map[string]any, error) {
	queue := r.queue + ".credit"
	conn, s, err := session(ctx, r, nil)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	sender, err := s.NewSender(ctx, queue, nil)
	if err != nil {
		return nil, err
	}
	receiver, err := s.NewReceiver(ctx, queue, &amqp.ReceiverOptions{Credit: -1})
	if err != nil {
		return nil, err
	}

	if err := receiver.DrainCredit(ctx, nil); err != nil {
		return nil, fmt.Errorf("drain with no credit and no messages: %w", err)
	}
	if err := sendTexts(ctx, sender, "1", "2", "3", "4", "5"); err != nil {
		return nil, err
	}
	if err := expectNothing(ctx, receiver, "a receiver without credit"); err != nil {
		return nil, err
	}
	if err := receiver.IssueCredit(3); err != nil {
		return nil, err
	}
	three, err := receiveN(ctx, receiver, 3)
	if err != nil {
		return nil, err
	}
	if err := expectBodies("after credit 3", three, "1", "2", "3"); err != nil {
		return nil, err
	}
	if err := expectNothing(ctx, receiver, "a receiver whose 3 credits are used"); err != nil {
		return nil, err
	}

	if err := receiver.IssueCredit(5); err != nil {
		return nil, err
	}
	rest, err := receiveN(ctx, receiver, 2)
	if err != nil {
		return nil, fmt.Errorf("after credit 5: %w", err)
	}
	if err := expectBodies("after credit 5", rest, "4", "5"); err != nil {
		return nil, err
	}
	// Three credits are left and nothing is queued: the broker answers the drain by using them up.
	if err := receiver.DrainCredit(ctx, nil); err != nil {
		return nil, fmt.Errorf("drain with 3 credits left and nothing queued: %w", err)
	}
	if err := sendTexts(ctx, sender, "6"); err != nil {
		return nil, err
	}
	if err := expectNothing(ctx, receiver, "a receiver whose credit a drain used up"); err != nil {
		return nil, err
	}
	if err := receiver.IssueCredit(1); err != nil {
		return nil, err
	}
	last, err := receiveN(ctx, receiver, 1)
	if err != nil {
		return nil, err
	}
	if err := expectBodies("after credit 1", last, "6"); err != nil {
		return nil, err
	}
	if err := acceptAll(ctx, receiver, append(append(three, rest...), last...)); err != nil {
		return nil, err
	}
	return map[string]any{"received": 6}, nil
}
