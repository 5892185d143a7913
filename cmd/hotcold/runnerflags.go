package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/pflag"

	"github.com/hotcold/hotcold/internal/runcore"
)

// runnerFlags are the flags `hotcold join` and `hotcold agg` share: the
// config file, the overrides of its kafka:/state: sections, logging and
// the bypass's --stop-at/--output-topic.
type runnerFlags struct {
	config, stateDir, logLevel, instance, stopAt, outTopic, group string
	brokers                                                       []string
}

// register adds the flags; what names the config ("the join's").
func (r *runnerFlags) register(fl *pflag.FlagSet, what string) {
	fl.StringVar(&r.config, "config", "", what+" YAML config file (required)")
	fl.StringSliceVar(&r.brokers, "brokers", nil, "Kafka seed brokers, overriding kafka.brokers of the config")
	fl.StringVar(&r.stateDir, "state-dir", "", "state directory, overriding state.dir of the config")
	fl.StringVar(&r.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fl.StringVar(&r.stopAt, "stop-at", "", "stop by itself (exit 0) once every assigned partition is processed up to, not including, these offsets and committed: topic/partition=offset,... naming every partition of every input")
	fl.StringVar(&r.outTopic, "output-topic", "", "topic the outputs are produced to, overriding output.topic of the config (the state manifest keeps output.topic: a bypass side job writes elsewhere)")
	fl.StringVar(&r.group, "group", "", "consumer group, overriding kafka.group of the config")
	fl.StringVar(&r.instance, "instance-id", "", "static group member id of this process (overrides kafka.instance_id): restarted with the same id it takes its partitions back at once")
}

// start checks --config and --log-level and returns the logger; example
// is the documented config file the error points to.
func (r *runnerFlags) start(stderr io.Writer, what, example string) (*slog.Logger, error) {
	if r.config == "" {
		return nil, fmt.Errorf("--config is required: pass %s YAML file (see %s for a documented example)", what, example)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(r.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", r.logLevel)
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})), nil
}

// override applies the flags to the config file's sections and parses
// --stop-at.
func (r *runnerFlags) override(k *runcore.KafkaSection, s *runcore.StateSection) (runcore.StopAt, error) {
	if len(r.brokers) > 0 {
		k.Brokers = r.brokers
	}
	if r.stateDir != "" {
		s.Dir = r.stateDir
	}
	if r.instance != "" {
		k.InstanceID = r.instance
	}
	if r.group != "" {
		k.Group = r.group
	}
	stop, err := runcore.ParseStopAt(r.stopAt)
	if err != nil {
		return nil, fmt.Errorf("--stop-at: %w", err)
	}
	return stop, nil
}

// runnerRegistry is the registry a runner command serves: the runner's
// metrics plus the Go and process collectors.
func runnerRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
