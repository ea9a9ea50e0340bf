package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/Azure/go-amqp"
)

// anonymousRelay: a sender without a target address (the connection offers ANONYMOUS-RELAY) routes
// each message by its properties.to; a message without one is rejected with amqp:invalid-field, and
// the sender goes on.
func anonymousRelay(ctx context.Context, r *run) (map[string]any, error) {
	conn, s, err := session(ctx, r, nil)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	first, second := r.queue+".relay.a", r.queue+".relay.b"
	relay, err := s.NewSender(ctx, "", nil)
	if err != nil {
		return nil, err
	}
	to := func(queue, body string) *amqp.Message {
		m := text(body)
		m.Properties = &amqp.MessageProperties{To: &queue}
		return m
	}
	if err := sendAll(ctx, relay, to(first, "for a"), to(second, "for b")); err != nil {
		return nil, err
	}
	err = relay.Send(ctx, text("nowhere"), nil)
	var rejected *amqp.Error
	if !errors.As(err, &rejected) || rejected.Condition != "amqp:invalid-field" {
		return nil, fmt.Errorf("a message without to: expected a rejection with amqp:invalid-field, got %v", err)
	}
	if err := sendAll(ctx, relay, to(first, "after the rejection")); err != nil {
		return nil, err
	}
	for queue, want := range map[string][]string{first: {"for a", "after the rejection"}, second: {"for b"}} {
		receiver, err := s.NewReceiver(ctx, queue, &amqp.ReceiverOptions{Credit: 10})
		if err != nil {
			return nil, err
		}
		got, err := receiveN(ctx, receiver, len(want))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", queue, err)
		}
		if err := expectBodies(queue, got, want...); err != nil {
			return nil, err
		}
		if err := acceptAll(ctx, receiver, got); err != nil {
			return nil, err
		}
	}
	return map[string]any{"rejection": rejected.Description}, nil
}
