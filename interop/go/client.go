package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/Azure/go-amqp"
)

// quiet is how long a receiver must stay without a message for "nothing arrives" to count as true.
const quiet = 400 * time.Millisecond

// session dials the broker and begins one session, with go-amqp's defaults unless opts says otherwise.
func session(ctx context.Context, r *run, opts *amqp.ConnOptions) (*amqp.Conn, *amqp.Session, error) {
	conn, err := amqp.Dial(ctx, r.url, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("dial: %w", err)
	}
	s, err := conn.NewSession(ctx, nil)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("begin: %w", err)
	}
	return conn, s, nil
}

// text is a message whose one data section holds body.
func text(body string) *amqp.Message {
	return amqp.NewMessage([]byte(body))
}

// grouped is a message of group id group (properties.group-id, AMQP 1.0 3.2.4).
func grouped(group, body string) *amqp.Message {
	m := text(body)
	m.Properties = &amqp.MessageProperties{GroupID: &group}
	return m
}

func sendAll(ctx context.Context, s *amqp.Sender, messages ...*amqp.Message) error {
	for _, m := range messages {
		if err := s.Send(ctx, m, nil); err != nil {
			return fmt.Errorf("send %q: %w", m.GetData(), err)
		}
	}
	return nil
}

func sendTexts(ctx context.Context, s *amqp.Sender, bodies ...string) error {
	for _, body := range bodies {
		if err := sendAll(ctx, s, text(body)); err != nil {
			return err
		}
	}
	return nil
}

// receive waits up to wait for the next message; nil when none came.
func receive(ctx context.Context, r *amqp.Receiver, wait time.Duration) (*amqp.Message, error) {
	waitCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	m, err := r.Receive(waitCtx, nil)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return nil, nil
	}
	return m, err
}

// receiveN receives exactly n messages, each within 5 s.
func receiveN(ctx context.Context, r *amqp.Receiver, n int) ([]*amqp.Message, error) {
	got := make([]*amqp.Message, 0, n)
	for len(got) < n {
		m, err := receive(ctx, r, 5*time.Second)
		if err != nil {
			return got, fmt.Errorf("receive %d of %d: %w", len(got)+1, n, err)
		}
		if m == nil {
			return got, fmt.Errorf("received %d of %d messages (%v), then nothing for 5 s", len(got), n, bodies(got))
		}
		got = append(got, m)
	}
	return got, nil
}

// expectNothing checks that no message arrives for a while.
func expectNothing(ctx context.Context, r *amqp.Receiver, who string) error {
	m, err := receive(ctx, r, quiet)
	if err != nil {
		return fmt.Errorf("%s: %w", who, err)
	}
	if m != nil {
		return fmt.Errorf("%s received %q, expected nothing", who, m.GetData())
	}
	return nil
}

func acceptAll(ctx context.Context, r *amqp.Receiver, messages []*amqp.Message) error {
	for _, m := range messages {
		if err := r.AcceptMessage(ctx, m); err != nil {
			return fmt.Errorf("accept %q: %w", m.GetData(), err)
		}
	}
	return nil
}

func bodies(messages []*amqp.Message) []string {
	out := make([]string, len(messages))
	for i, m := range messages {
		out[i] = string(m.GetData())
	}
	return out
}

// deliveryCount is header.delivery-count (AMQP 1.0 3.2.1); an absent header means 0.
func deliveryCount(m *amqp.Message) uint32 {
	if m.Header == nil {
		return 0
	}
	return m.Header.DeliveryCount
}

func counts(messages []*amqp.Message) []uint32 {
	out := make([]uint32, len(messages))
	for i, m := range messages {
		out[i] = deliveryCount(m)
	}
	return out
}

// expectBodies checks the bodies of messages, in order.
func expectBodies(who string, messages []*amqp.Message, want ...string) error {
	got := bodies(messages)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		return fmt.Errorf("%s received %v, expected %v", who, got, want)
	}
	return nil
}

// expectCounts checks the delivery-count of each message, in order.
func expectCounts(who string, messages []*amqp.Message, want ...uint32) error {
	got := counts(messages)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		return fmt.Errorf("%s: delivery-counts %v, expected %v (bodies %v)", who, got, want, bodies(messages))
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
