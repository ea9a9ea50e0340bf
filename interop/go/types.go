package main

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"time"

	"github.com/Azure/go-amqp"
)

var (
	someUUID  = amqp.UUID{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	otherUUID = amqp.UUID{0xff, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 0xee}
	someTime  = time.UnixMilli(1_700_000_000_123)
)

// scalars: every primitive AMQP type go-amqp can encode (AMQP 1.0 1.6), with the small encodings
// (uint0, smalluint, smallint, ...) chosen by go-amqp for small values, and the edges of each range.
func scalars() map[string]any {
	return map[string]any{
		"null":        nil,
		"true":        true,
		"false":       false,
		"ubyte":       uint8(255),
		"ushort":      uint16(65535),
		"uint":        uint32(4_000_000_000),
		"uint-small":  uint32(7),
		"uint-zero":   uint32(0),
		"ulong":       uint64(1<<63 + 5),
		"ulong-small": uint64(9),
		"ulong-zero":  uint64(0),
		"byte":        int8(-128),
		"short":       int16(-32768),
		"int":         int32(-2_000_000_000),
		"int-small":   int32(-5),
		"long":        int64(-1 << 62),
		"long-small":  int64(-7),
		"float":       float32(1.5),
		"double":      float64(-2.25),
		"timestamp":   someTime,
		"uuid":        someUUID,
		"binary":      []byte{0, 1, 2, 255},
		"string":      "grüße, 世界",
		"symbol":      amqp.Symbol("a-symbol"),
	}
}

// composites: lists, maps (every key kind go-amqp has) and arrays of every element type go-amqp encodes.
func composites() map[string]any {
	return map[string]any{
		"list":            []any{int8(1), "two", amqp.Symbol("three"), []any{uint16(4), nil}, map[string]any{"five": int64(5)}},
		"list-empty":      []any{},
		"map":             map[string]any{"k": int16(5), "nested": []any{true}},
		"map-any-keys":    map[any]any{int64(1): "one", "two": []byte{2}, amqp.Symbol("three"): uint8(3)},
		"map-symbol-keys": map[amqp.Symbol]any{"s": true},
		"array-byte":      []int8{-1, 2},
		"array-ushort":    []uint16{1, 65535},
		"array-short":     []int16{-1, 2},
		"array-uint":      []uint32{0, 7, 4_000_000_000},
		"array-int":       []int32{-1, 100, 1 << 30},
		"array-ulong":     []uint64{0, 9, 1 << 63},
		"array-long":      []int64{-1, 5, 1 << 40},
		"array-float":     []float32{1.5, -0.25},
		"array-double":    []float64{2.5, -1e300},
		"array-boolean":   []bool{true, false},
		"array-string":    []string{"a", "b"},
		"array-symbol":    []amqp.Symbol{"x", "y"},
		"array-binary":    [][]byte{{1}, {2, 3}},
		"array-timestamp": []time.Time{someTime, time.UnixMilli(0)},
		"array-uuid":      []amqp.UUID{someUUID, otherUUID},
		"array-map":       []map[any]any{{"a": int32(1)}, {"b": false}},
	}
}

func annotations(values map[string]any) amqp.Annotations {
	out := amqp.Annotations{}
	for key, value := range values {
		out[amqp.Symbol("x-opt-"+key)] = value
	}
	return out
}

// typedMessages: every section a message can have (AMQP 1.0 3.2), every message-id kind, and a body
// of every kind: each value above as amqp-value, several data sections, several amqp-sequence sections.
func typedMessages() []*amqp.Message {
	everything := scalars()
	for key, value := range composites() {
		everything[key] = value
	}
	expiry := time.UnixMilli(time.Now().Add(time.Hour).UnixMilli())
	first := &amqp.Message{
		Header:              &amqp.MessageHeader{Durable: true, Priority: 7, TTL: time.Hour, FirstAcquirer: true},
		DeliveryAnnotations: annotations(scalars()),
		Annotations:         annotations(everything),
		Properties: &amqp.MessageProperties{
			MessageID:          uint64(42),
			UserID:             []byte("user"),
			To:                 ptr("somewhere"),
			Subject:            ptr("subject"),
			ReplyTo:            ptr("reply-here"),
			CorrelationID:      someUUID,
			ContentType:        ptr("application/x-test"),
			ContentEncoding:    ptr("identity"),
			AbsoluteExpiryTime: &expiry,
			CreationTime:       &someTime,
			GroupID:            ptr("group"),
			GroupSequence:      ptr(uint32(3)),
			ReplyToGroupID:     ptr("reply-group"),
		},
		ApplicationProperties: scalars(),
		Value:                 []any{int8(1), uint64(2), "three"},
		Footer:                annotations(map[string]any{"footer": int32(1)}),
	}
	messages := []*amqp.Message{
		first,
		{Properties: &amqp.MessageProperties{MessageID: someUUID, CorrelationID: []byte{9, 9}}, Data: [][]byte{{1, 2}, {}, {3}}},
		{Properties: &amqp.MessageProperties{MessageID: []byte{7, 7, 7}, CorrelationID: "correlation"}, Sequence: [][]any{{int16(1), "a"}, {amqp.Symbol("b")}}},
		{Properties: &amqp.MessageProperties{MessageID: "message-id", CorrelationID: uint64(7)}, Value: map[any]any{"every": int32(1)}},
	}
	keys := make([]string, 0, len(everything))
	for key := range everything {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if everything[key] == nil {
			continue // a null amqp-value cannot be told apart from no body in go-amqp's Message
		}
		messages = append(messages, &amqp.Message{ApplicationProperties: map[string]any{"body": key}, Value: everything[key]})
	}
	return messages
}

// typesRoundTrip: every AMQP type go-amqp can send arrives with its type. Each received message must
// equal the sent one after go-amqp's own encoder and decoder: reflect.DeepEqual compares the dynamic
// Go type of every value, so a type changed on the way (byte becoming ubyte, long becoming int, a
// symbol becoming a string) shows as a difference.
func typesRoundTrip(ctx context.Context, r *run) (map[string]any, error) {
	conn, s, err := session(ctx, r, nil)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	queue := r.queue + ".types"
	sender, err := s.NewSender(ctx, queue, nil)
	if err != nil {
		return nil, err
	}
	sent := typedMessages()
	if err := sendAll(ctx, sender, sent...); err != nil {
		return nil, err
	}
	receiver, err := s.NewReceiver(ctx, queue, &amqp.ReceiverOptions{Credit: int32(len(sent))})
	if err != nil {
		return nil, err
	}
	received, err := receiveN(ctx, receiver, len(sent))
	if err != nil {
		return nil, err
	}
	if err := acceptAll(ctx, receiver, received); err != nil {
		return nil, err
	}
	for i := range sent {
		expected, err := throughGoAmqp(sent[i])
		if err != nil {
			return nil, fmt.Errorf("message %d: go-amqp's own round trip: %w", i, err)
		}
		if err := sameSections(expected, received[i]); err != nil {
			return nil, fmt.Errorf("message %d: %w", i, err)
		}
	}
	return map[string]any{"messages": len(sent), "types": len(scalars()) + len(composites())}, nil
}

// throughGoAmqp is m as go-amqp decodes its own encoding of m: what any AMQP hop that keeps types
// must deliver.
func throughGoAmqp(m *amqp.Message) (*amqp.Message, error) {
	bytes, err := m.MarshalBinary()
	if err != nil {
		return nil, err
	}
	decoded := &amqp.Message{}
	return decoded, decoded.UnmarshalBinary(bytes)
}

func sameSections(expected, got *amqp.Message) error {
	sections := []struct {
		name           string
		expected, real any
	}{
		{"header", expected.Header, got.Header},
		{"delivery-annotations", expected.DeliveryAnnotations, got.DeliveryAnnotations},
		{"message-annotations", expected.Annotations, got.Annotations},
		{"properties", expected.Properties, got.Properties},
		{"application-properties", expected.ApplicationProperties, got.ApplicationProperties},
		{"data", expected.Data, got.Data},
		{"amqp-value", expected.Value, got.Value},
		{"amqp-sequence", expected.Sequence, got.Sequence},
		{"footer", expected.Footer, got.Footer},
	}
	for _, section := range sections {
		if !reflect.DeepEqual(section.expected, section.real) {
			return fmt.Errorf("%s differs:\n sent     %#v\n received %#v", section.name, section.expected, section.real)
		}
	}
	return nil
}
