package main

import (
	"context"
	"fmt"
	"time"

	"github.com/Azure/go-amqp"
)

// consumerSettle is how long the broker gets to see the credit of receivers that just attached
// before messages are sent (go-amqp writes its first flow right behind the attach).
const consumerSettle = 300 * time.Millisecond

// groups: A,B,A,C,B,A,C over three receivers on three connections: each receiver gets exactly one
// whole group, in order, and no two receivers share a group (README, "Message groups").
func groups(ctx context.Context, r *run) (map[string]any, error) {
	queue := r.queue + ".groups"
	receivers := make([]*amqp.Receiver, 3)
	for i := range receivers {
		conn, s, err := session(ctx, r, nil)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		if receivers[i], err = s.NewReceiver(ctx, queue, &amqp.ReceiverOptions{Credit: 10}); err != nil {
			return nil, err
		}
	}
	time.Sleep(consumerSettle)
	conn, s, err := session(ctx, r, nil)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	sender, err := s.NewSender(ctx, queue, nil)
	if err != nil {
		return nil, err
	}
	order := []string{"A", "B", "A", "C", "B", "A", "C"}
	seen := map[string]int{}
	for _, group := range order {
		seen[group]++
		if err := sendAll(ctx, sender, grouped(group, fmt.Sprintf("%s%d", group, seen[group]))); err != nil {
			return nil, err
		}
	}
	owners := map[string]int{}
	total := 0
	for i, receiver := range receivers {
		var got []*amqp.Message
		for {
			m, err := receive(ctx, receiver, quiet)
			if err != nil {
				return nil, err
			}
			if m == nil {
				break
			}
			got = append(got, m)
		}
		if len(got) == 0 {
			return nil, fmt.Errorf("receiver %d got nothing: three groups over three receivers should give each one", i+1)
		}
		group := *got[0].Properties.GroupID
		want := make([]string, seen[group])
		for n := range want {
			want[n] = fmt.Sprintf("%s%d", group, n+1)
		}
		if err := expectBodies(fmt.Sprintf("receiver %d (group %s)", i+1, group), got, want...); err != nil {
			return nil, err
		}
		if previous, taken := owners[group]; taken {
			return nil, fmt.Errorf("group %s went to receivers %d and %d", group, previous, i+1)
		}
		owners[group] = i + 1
		total += len(got)
		if err := acceptAll(ctx, receiver, got); err != nil {
			return nil, err
		}
	}
	if total != len(order) {
		return nil, fmt.Errorf("received %d messages, sent %d", total, len(order))
	}
	return map[string]any{"owners": owners}, nil
}
