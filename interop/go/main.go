// Command convoy-go-interop runs one scenario of an unmodified go-amqp client (github.com/Azure/go-amqp,
// the AMQP 1.0 client under the Azure Service Bus and Event Hubs Go SDKs) against a running Convoy
// broker. It prints one JSON line, {"ok": true|false, "scenario": ..., ...}, and exits 0 when every
// check of the scenario held, 1 otherwise. test/interop/go-amqp.test.ts builds it and runs each
// scenario against a broker it starts.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"time"
)

// A scenario returns facts worth printing, or the first check that failed.
type scenario func(ctx context.Context, run *run) (map[string]any, error)

var scenarios = map[string]scenario{
	"settle-modes":    settleModes,
	"empty-termini":   emptyTermini,
	"types":           typesRoundTrip,
	"groups":          groups,
	"owner-close":     ownerClose,
	"exclusive":       exclusive,
	"outcomes":        outcomes,
	"credit-drain":    creditAndDrain,
	"large-message":   largeMessage,
	"anonymous-relay": anonymousRelay,
	"heartbeats":      heartbeats,
}

// run holds what every scenario needs: where the broker is, and the options it was started with.
type run struct {
	url string
	// queue prefixes every queue name the scenario uses, so scenarios never share a queue.
	queue string
	// variant selects a scenario's variant (owner-close: link or connection; exclusive: property or address).
	variant string
}

func main() {
	url := flag.String("url", "amqp://127.0.0.1:5672", "broker URL")
	name := flag.String("scenario", "", "scenario to run")
	queue := flag.String("queue", "go", "prefix of the queue names the scenario uses")
	variant := flag.String("variant", "", "scenario variant")
	timeout := flag.Duration("timeout", 60*time.Second, "the scenario fails after this long")
	flag.Parse()

	result := map[string]any{"scenario": *name}
	run := &run{url: *url, queue: *queue, variant: *variant}
	play, known := scenarios[*name]
	var err error
	if !known {
		err = fmt.Errorf("unknown scenario %q (known: %v)", *name, scenarioNames())
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		var facts map[string]any
		facts, err = play(ctx, run)
		cancel()
		for key, value := range facts {
			result[key] = value
		}
	}
	result["ok"] = err == nil
	if err != nil {
		result["error"] = err.Error()
	}
	line, _ := json.Marshal(result)
	fmt.Println(string(line))
	if err != nil {
		os.Exit(1)
	}
}

func scenarioNames() []string {
	names := make([]string, 0, len(scenarios))
	for name := range scenarios {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
