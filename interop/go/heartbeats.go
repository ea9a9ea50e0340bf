package main

import (
	"context"
	"fmt"
	"time"

	"github.com/Azure/go-amqp"
)

// heartbeats: the broker is started with a short idle timeout (the test passes it as the variant, in
// milliseconds) and go-amqp asks for 1 s. The connection then stays silent, links open, for several
// times both timeouts: only the empty frames each side sends (AMQP 1.0 2.4.5) keep it alive. After
// that the same links still move a message.
func heartbeats(ctx context.Context, r *run) (map[string]any, error) {
	brokerTimeout, err := time.ParseDuration(r.variant + "ms")
	if err != nil {
		return nil, fmt.Errorf("variant must be the broker's idleTimeoutMs: %w", err)
	}
	const clientTimeout = time.Second
	conn, s, err := session(ctx, r, &amqp.ConnOptions{IdleTimeout: clientTimeout})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	queue := r.queue + ".heartbeats"
	sender, err := s.NewSender(ctx, queue, nil)
	if err != nil {
		return nil, err
	}
	receiver, err := s.NewReceiver(ctx, queue, nil)
	if err != nil {
		return nil, err
	}
	silence := 3 * max(brokerTimeout, clientTimeout)
	time.Sleep(silence)
	if err := sendTexts(ctx, sender, "after the silence"); err != nil {
		return nil, fmt.Errorf("after %v without messages: %w", silence, err)
	}
	got, err := receiveN(ctx, receiver, 1)
	if err != nil {
		return nil, fmt.Errorf("after %v without messages: %w", silence, err)
	}
	if err := expectBodies("after the silence", got, "after the silence"); err != nil {
		return nil, err
	}
	return map[string]any{"silent-ms": silence.Milliseconds()}, acceptAll(ctx, receiver, got)
}
