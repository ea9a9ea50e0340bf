package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"

	"github.com/Azure/go-amqp"
)

// largeMessage: a 5 MiB data section (many transfer frames each way, AMQP 1.0 2.6.14) arrives byte
// for byte.
func largeMessage(ctx context.Context, r *run) (map[string]any, error) {
	const size = 5 << 20
	queue := r.queue + ".large"
	conn, s, err := session(ctx, r, nil)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	body := make([]byte, size)
	if _, err := rand.Read(body); err != nil {
		return nil, err
	}
	sender, err := s.NewSender(ctx, queue, nil)
	if err != nil {
		return nil, err
	}
	if err := sender.Send(ctx, amqp.NewMessage(body), nil); err != nil {
		return nil, fmt.Errorf("send 5 MiB: %w", err)
	}
	receiver, err := s.NewReceiver(ctx, queue, nil)
	if err != nil {
		return nil, err
	}
	got, err := receiveN(ctx, receiver, 1)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(got[0].GetData(), body) {
		return nil, fmt.Errorf("received %d bytes that differ from the %d sent", len(got[0].GetData()), size)
	}
	return map[string]any{"bytes": size}, acceptAll(ctx, receiver, got)
}
