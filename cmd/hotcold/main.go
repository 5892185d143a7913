// Command hotcold is the one binary of hotcold: hot/cold join separation, a
// shared cold store and its lookup sidecar, state migration, mock replay and
// lag diagnosis for real-time data warehouses on Kafka and Flink.
//
// Each subcommand's constructor (newXCmd) lives in its own file;
// newRootCmd adds them all. This package only wires flags to the
// constructors of the library packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "hotcold",
		Short: "Hot/cold join separation, a shared cold store and streaming-job tooling for Kafka and Flink",
		Long: `hotcold keeps only the hot window of a streaming join in embedded state and
serves everything older from a shared, daily bulk-loaded cold store through a
gRPC lookup sidecar. It also migrates operator state when logic changes,
replays mock cases to debug jobs, and diagnoses consumer lag.`,
		Example: `  hotcold demo                      # the whole story on one machine
  hotcold load --store pebble:./cold --table orders --version 2026-11-22 --key order_id orders.parquet
  hotcold serve --store pebble:./cold --unix /tmp/hotcold.sock
  hotcold lookup --addr unix:///tmp/hotcold.sock --table orders 42`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newAggCmd(),
		newDemoCmd(),
		newDiagCmd(),
		newJoinCmd(),
		newLoadCmd(),
		newLookupCmd(),
		newMigrateCmd(),
		newMockCmd(),
		newProduceCmd(),
		newServeCmd(),
		newUICmd(),
		newVersionCmd(),
	)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the hotcold version",
		Example: "  hotcold version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "hotcold %s\n", version)
			return err
		},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "hotcold: %v\n", err)
		var ec interface{ ExitCode() int }
		if errors.As(err, &ec) {
			os.Exit(ec.ExitCode())
		}
		os.Exit(1)
	}
}
