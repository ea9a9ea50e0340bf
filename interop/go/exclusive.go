package main

import (
	"context"
	"fmt"

	"github.com/Azure/go-amqp"
)

// exclusive: two exclusive receivers, asked for by link property (variant "property": properties
// {exclusive: true}) or by address option (variant "address": "queue?consumer.exclusive=true"). Only
// the first receives; when it detaches with messages unsettled, the second takes over and gets those
// first, in order, with delivery-count 1, then the rest.
func exclusive(ctx context.Context, r *run) (map[string]any, error) {
	queue := r.queue + ".exclusive." + r.variant
	var source string
	var opts amqp.ReceiverOptions
	switch r.variant {
	case "property":
		source = queue
		opts = amqp.ReceiverOptions{Credit: 10, Properties: map[string]any{"exclusive": true}}
	case "address":
		source = queue + "?consumer.exclusive=true"
		opts = amqp.ReceiverOptions{Credit: 10}
	default:
		return nil, fmt.Errorf("variant must be property or address, got %q", r.variant)
	}
	conn, s, err := session(ctx, r, nil)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	standbyConn, standbySession, err := session(ctx, r, nil)
	if err != nil {
		return nil, err
	}
	defer standbyConn.Close()
	active, err := s.NewReceiver(ctx, source, &opts)
	if err != nil {
		return nil, err
	}
	if active.Address() != source {
		return nil, fmt.Errorf("the attach reply names source %q, asked for %q", active.Address(), source)
	}
	standby, err := standbySession.NewReceiver(ctx, source, &opts)
	if err != nil {
		return nil, err
	}
	sender, err := s.NewSender(ctx, queue, nil)
	if err != nil {
		return nil, err
	}
	if err := sendTexts(ctx, sender, "1", "2", "3", "4", "5"); err != nil {
		return nil, err
	}
	first, err := receiveN(ctx, active, 5)
	if err != nil {
		return nil, fmt.Errorf("active: %w", err)
	}
	if err := expectBodies("the active receiver", first, "1", "2", "3", "4", "5"); err != nil {
		return nil, err
	}
	if err := expectNothing(ctx, standby, "the standby receiver"); err != nil {
		return nil, err
	}
	if err := acceptAll(ctx, active, first[:2]); err != nil {
		return nil, err
	}
	if err := active.Close(ctx); err != nil {
		return nil, err
	}
	returned, err := receiveN(ctx, standby, 3)
	if err != nil {
		return nil, fmt.Errorf("standby after failover: %w", err)
	}
	if err := expectBodies("the standby after failover", returned, "3", "4", "5"); err != nil {
		return nil, err
	}
	if err := expectCounts("the standby after failover", returned, 1, 1, 1); err != nil {
		return nil, err
	}
	if err := sendTexts(ctx, sender, "6"); err != nil {
		return nil, err
	}
	later, err := receiveN(ctx, standby, 1)
	if err != nil {
		return nil, err
	}
	if err := expectBodies("the standby", later, "6"); err != nil {
		return nil, err
	}
	return map[string]any{"failed-over": len(returned)}, acceptAll(ctx, standby, append(returned, later...))
}
