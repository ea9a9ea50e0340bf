package main

import (
	"context"
	"fmt"

	"github.com/Azure/go-amqp"
)

// emptyTermini: go-amqp sends an empty source on every sender and an empty target on every receiver
// (a described list without fields). Once one go-amqp sender had attached, every later receiver and
// anonymous sender, on every connection, was answered with an 11-field terminus and refused by go-amqp
// ("invalid field count 11 for 0x29"). Here senders, receivers and anonymous senders attach on three
// connections, interleaved, and messages go through all of them.
func emptyTermini(ctx context.Context, r *run) (map[string]any, error) {
	var attached int
	// The connections stay open: each round's links are attached while the earlier rounds' still exist.
	var conns []*amqp.Conn
	defer func() {
		for _, conn := range conns {
			conn.Close()
		}
	}()
	for round := 1; round <= 3; round++ {
		conn, s, err := session(ctx, r, nil)
		if err != nil {
			return nil, err
		}
		conns = append(conns, conn)
		queue := fmt.Sprintf("%s.empty-termini.%d", r.queue, round)
		sender, err := s.NewSender(ctx, queue, nil)
		if err != nil {
			return nil, fmt.Errorf("round %d: sender: %w", round, err)
		}
		receiver, err := s.NewReceiver(ctx, queue, &amqp.ReceiverOptions{Credit: 10})
		if err != nil {
			return nil, fmt.Errorf("round %d: receiver after a sender: %w", round, err)
		}
		anonymous, err := s.NewSender(ctx, "", nil)
		if err != nil {
			return nil, fmt.Errorf("round %d: anonymous sender after a sender: %w", round, err)
		}
		attached += 3
		named := fmt.Sprintf("round %d by name", round)
		relayed := fmt.Sprintf("round %d by the relay", round)
		if err := sendTexts(ctx, sender, named); err != nil {
			return nil, err
		}
		viaRelay := text(relayed)
		viaRelay.Properties = &amqp.MessageProperties{To: &queue}
		if err := sendAll(ctx, anonymous, viaRelay); err != nil {
			return nil, err
		}
		got, err := receiveN(ctx, receiver, 2)
		if err != nil {
			return nil, fmt.Errorf("round %d: %w", round, err)
		}
		if err := expectBodies(fmt.Sprintf("round %d", round), got, named, relayed); err != nil {
			return nil, err
		}
		if err := acceptAll(ctx, receiver, got); err != nil {
			return nil, err
		}
	}
	return map[string]any{"links": attached}, nil
}
