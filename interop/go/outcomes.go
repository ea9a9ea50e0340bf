package main

import (
	"context"
	"fmt"

	"github.com/Azure/go-amqp"
)

// deadLetterQueue is the broker's default dead-letter queue (README, queue option deadLetterQueue).
const deadLetterQueue = "DLQ"

// outcomes: every outcome of AMQP 1.0 3.4 as go-amqp sends it (README, "Outcomes"):
// released: back at its position, delivery-count unchanged; modified{delivery-failed}: back with
// count + 1; modified{undeliverable-here}: never to that receiver again, another one gets it;
// rejected: to the dead-letter queue; accepted: gone.
func outcomes(ctx context.Context, r *run) (map[string]any, error) {
	queue := r.queue + ".outcomes"
	conn, s, err := session(ctx, r, nil)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	sender, err := s.NewSender(ctx, queue, nil)
	if err != nil {
		return nil, err
	}
	marker := "rejected by " + r.queue
	if err := sendTexts(ctx, sender, "released", "failed", "not-here", marker, "accepted"); err != nil {
		return nil, err
	}
	receiver, err := s.NewReceiver(ctx, queue, &amqp.ReceiverOptions{Credit: 10})
	if err != nil {
		return nil, err
	}
	all, err := receiveN(ctx, receiver, 5)
	if err != nil {
		return nil, err
	}
	if err := expectBodies("the receiver", all, "released", "failed", "not-here", marker, "accepted"); err != nil {
		return nil, err
	}

	if err := receiver.ReleaseMessage(ctx, all[0]); err != nil {
		return nil, err
	}
	again, err := receiveN(ctx, receiver, 1)
	if err != nil {
		return nil, fmt.Errorf("after release: %w", err)
	}
	if err := expectBodies("after release", again, "released"); err != nil {
		return nil, err
	}
	if err := expectCounts("after release", again, 0); err != nil {
		return nil, err
	}

	if err := receiver.ModifyMessage(ctx, all[1], &amqp.ModifyMessageOptions{DeliveryFailed: true}); err != nil {
		return nil, err
	}
	failed, err := receiveN(ctx, receiver, 1)
	if err != nil {
		return nil, fmt.Errorf("after modified{delivery-failed}: %w", err)
	}
	if err := expectBodies("after modified{delivery-failed}", failed, "failed"); err != nil {
		return nil, err
	}
	if err := expectCounts("after modified{delivery-failed}", failed, 1); err != nil {
		return nil, err
	}

	if err := receiver.ModifyMessage(ctx, all[2], &amqp.ModifyMessageOptions{UndeliverableHere: true}); err != nil {
		return nil, err
	}
	if err := expectNothing(ctx, receiver, "the receiver that said undeliverable-here"); err != nil {
		return nil, err
	}
	other, err := s.NewReceiver(ctx, queue, &amqp.ReceiverOptions{Credit: 10})
	if err != nil {
		return nil, err
	}
	elsewhere, err := receiveN(ctx, other, 1)
	if err != nil {
		return nil, fmt.Errorf("another receiver after modified{undeliverable-here}: %w", err)
	}
	if err := expectBodies("another receiver", elsewhere, "not-here"); err != nil {
		return nil, err
	}
	if err := expectCounts("another receiver", elsewhere, 0); err != nil {
		return nil, err
	}

	if err := receiver.RejectMessage(ctx, all[3], &amqp.Error{Condition: "x-test:rejected", Description: "rejected on purpose"}); err != nil {
		return nil, err
	}
	if err := acceptAll(ctx, receiver, append(append(again, failed...), all[4])); err != nil {
		return nil, err
	}
	if err := acceptAll(ctx, other, elsewhere); err != nil {
		return nil, err
	}
	if err := expectNothing(ctx, other, "the queue after every outcome"); err != nil {
		return nil, err
	}
	dead, err := s.NewReceiver(ctx, deadLetterQueue, &amqp.ReceiverOptions{Credit: 10})
	if err != nil {
		return nil, err
	}
	dlq, err := receiveN(ctx, dead, 1)
	if err != nil {
		return nil, fmt.Errorf("dead-letter queue: %w", err)
	}
	if err := expectBodies("the dead-letter queue", dlq, marker); err != nil {
		return nil, err
	}
	return map[string]any{"dead-lettered": len(dlq)}, acceptAll(ctx, dead, dlq)
}
