package sidecar

import (
	"fmt"
	"math"
	"time"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/sidecar/adminpb"
)

// Conversions between the coldstore load types and hotcold.admin.v1.

func loadProgressToProto(p coldstore.LoadProgress) *adminpb.LoadProgress {
	return &adminpb.LoadProgress{
		Phase: p.Phase, Rows: p.Rows, Written: p.Written, Bytes: p.Bytes,
		InputBytes: p.InputBytes, InputTotal: p.InputTotal, ElapsedSeconds: p.Elapsed.Seconds(),
	}
}

func loadProgressFromProto(p *adminpb.LoadProgress) coldstore.LoadProgress {
	return coldstore.LoadProgress{
		Phase: p.GetPhase(), Rows: p.GetRows(), Written: p.GetWritten(), Bytes: p.GetBytes(),
		InputBytes: p.GetInputBytes(), InputTotal: p.GetInputTotal(), Elapsed: secondsToDuration(p.GetElapsedSeconds()),
	}
}

// secondsToDuration converts seconds, clamping what a Duration cannot
// hold (a NaN is 0).
func secondsToDuration(s float64) time.Duration {
	switch d := s * float64(time.Second); {
	case math.IsNaN(d):
		return 0
	case d >= math.MaxInt64:
		return math.MaxInt64
	case d <= math.MinInt64:
		return math.MinInt64
	default:
		return time.Duration(d)
	}
}

func loadResultToProto(r coldstore.LoadResult) *adminpb.LoadResult {
	out := &adminpb.LoadResult{
		Table: r.Table, Version: r.Version, Rows: r.Rows, Duplicates: r.Duplicates, Bytes: r.Bytes,
		InputBytes: r.InputBytes, Seconds: r.Seconds, SchemaVersion: r.SchemaVersion,
		SpilledRuns: int32(min(r.SpilledRuns, math.MaxInt32)), Dropped: r.Dropped,
	}
	if r.Schema != nil {
		out.Schema = schemaToProto(r.Schema)
	}
	return out
}

func loadResultFromProto(p *adminpb.LoadResult) (coldstore.LoadResult, error) {
	r := coldstore.LoadResult{
		Table: p.GetTable(), Version: p.GetVersion(), Rows: p.GetRows(), Duplicates: p.GetDuplicates(), Bytes: p.GetBytes(),
		InputBytes: p.GetInputBytes(), Seconds: p.GetSeconds(), SchemaVersion: p.GetSchemaVersion(),
		SpilledRuns: int(p.GetSpilledRuns()), Dropped: p.GetDropped(),
	}
	if p.GetSchema() != nil {
		s, err := schemaFromProto(p.GetSchema())
		if err != nil {
			return coldstore.LoadResult{}, fmt.Errorf("load result schema: %w", err)
		}
		r.Schema = s
	}
	return r, nil
}

func versionInfoToProto(v coldstore.VersionInfo) *adminpb.Version {
	out := &adminpb.Version{
		Table: v.Table, Version: v.Version, Live: v.Live, Rows: v.Rows, Duplicates: v.Duplicates, Bytes: v.Bytes,
		CoversUntil: timeToProto(v.CoversUntil), LoadedAt: timeToProto(v.LoadedAt), Sources: v.Sources,
	}
	if v.Schema != nil {
		out.Schema = schemaToProto(v.Schema)
	}
	return out
}

func versionInfoFromProto(p *adminpb.Version) (coldstore.VersionInfo, error) {
	v := coldstore.VersionInfo{
		Table: p.GetTable(), Version: p.GetVersion(), Live: p.GetLive(), Rows: p.GetRows(), Duplicates: p.GetDuplicates(), Bytes: p.GetBytes(),
		CoversUntil: timeFromProto(p.GetCoversUntil()), LoadedAt: timeFromProto(p.GetLoadedAt()), Sources: p.GetSources(),
	}
	if p.GetSchema() != nil {
		s, err := schemaFromProto(p.GetSchema())
		if err != nil {
			return coldstore.VersionInfo{}, fmt.Errorf("version %s of %s: schema: %w", v.Version, v.Table, err)
		}
		v.Schema = s
	}
	return v, nil
}
