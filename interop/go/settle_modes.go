package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/Azure/go-amqp"
)

// settleModes: go-amqp refuses a link whose attach reply does not echo a settle mode it asked for
// (AMQP 1.0 2.7.3). Every sender settle mode and every receiver settle mode, on both link roles, must
// attach and move messages; a sender asking the broker to settle second is told "first", the mode the
// broker uses, and go-amqp refuses that link itself.
func settleModes(ctx context.Context, r *run) (map[string]any, error) {
	conn, s, err := session(ctx, r, nil)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	queue := r.queue + ".settle"

	senderModes := []struct {
		name string
		mode amqp.SenderSettleMode
		send *amqp.SendOptions
	}{
		{"unsettled", amqp.SenderSettleModeUnsettled, nil},
		{"settled", amqp.SenderSettleModeSettled, nil},
		{"mixed, unsettled send", amqp.SenderSettleModeMixed, nil},
		{"mixed, settled send", amqp.SenderSettleModeMixed, &amqp.SendOptions{Settled: true}},
	}
	var sent []string
	for _, m := range senderModes {
		sender, err := s.NewSender(ctx, queue, &amqp.SenderOptions{SettlementMode: ptr(m.mode)})
		if err != nil {
			return nil, fmt.Errorf("sender settle mode %s: %w", m.name, err)
		}
		body := "sent " + m.name
		if err := sender.Send(ctx, text(body), m.send); err != nil {
			return nil, fmt.Errorf("sender settle mode %s: send: %w", m.name, err)
		}
		sent = append(sent, body)
		sender.Close(ctx)
	}

	_, err = s.NewSender(ctx, queue, &amqp.SenderOptions{RequestedReceiverSettleMode: ptr(amqp.ReceiverSettleModeSecond)})
	if err == nil || !strings.Contains(err.Error(), `"second" requested, received "first"`) {
		return nil, fmt.Errorf("a sender asking for rcv-settle-mode second: expected go-amqp to refuse the broker's \"first\", got %v", err)
	}

	receiverModes := []struct {
		name string
		opts amqp.ReceiverOptions
	}{
		{"rcv first", amqp.ReceiverOptions{SettlementMode: ptr(amqp.ReceiverSettleModeFirst)}},
		{"rcv second", amqp.ReceiverOptions{SettlementMode: ptr(amqp.ReceiverSettleModeSecond)}},
		{"snd unsettled", amqp.ReceiverOptions{RequestedSenderSettleMode: ptr(amqp.SenderSettleModeUnsettled)}},
		{"snd mixed", amqp.ReceiverOptions{RequestedSenderSettleMode: ptr(amqp.SenderSettleModeMixed)}},
		{"snd settled", amqp.ReceiverOptions{RequestedSenderSettleMode: ptr(amqp.SenderSettleModeSettled)}},
	}
	var received []string
	for i, m := range receiverModes {
		receiver, err := s.NewReceiver(ctx, queue, &m.opts)
		if err != nil {
			return nil, fmt.Errorf("receiver %s: %w", m.name, err)
		}
		// The first four receivers take one message each; the last one takes a message sent for it.
		if i == len(receiverModes)-1 {
			sender, err := s.NewSender(ctx, queue, nil)
			if err != nil {
				return nil, err
			}
			if err := sendTexts(ctx, sender, "pre-settled"); err != nil {
				return nil, err
			}
		}
		got, err := receiveN(ctx, receiver, 1)
		if err != nil {
			return nil, fmt.Errorf("receiver %s: %w", m.name, err)
		}
		// In rcv-settle-mode second, go-amqp's accept returns once the broker has settled (2.6.12);
		// a pre-settled transfer needs no outcome and returns at once.
		if err := acceptAll(ctx, receiver, got); err != nil {
			return nil, fmt.Errorf("receiver %s: %w", m.name, err)
		}
		received = append(received, bodies(got)...)
		receiver.Close(ctx)
	}
	want := append(append([]string{}, sent...), "pre-settled")
	if fmt.Sprint(received) != fmt.Sprint(want) {
		return nil, fmt.Errorf("received %v, expected %v", received, want)
	}
	return map[string]any{"received": len(received)}, nil
}
