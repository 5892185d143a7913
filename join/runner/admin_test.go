package runner_test

import (
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

type (
	kadmListedOffset   = kadm.ListedOffset
	kadmOffsetResponse = kadm.OffsetResponse
)

func newAdmin(cl *kgo.Client) *kadm.Client { return kadm.NewClient(cl) }
