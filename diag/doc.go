// Package diag explains consumer lag of Kafka and Flink jobs: a lag monitor
// finds anomalies, collectors read the job's evidence for the anomaly's
// window, rules turn the evidence into findings, and a report shows a
// timeline of the window with each finding's cause, details and suggestion.
//
// # Lag
//
// [Evaluate] is a pure function from a window of [Sample] (committed and end
// offset of one partition over time) to a [PartitionStatus]: OK, WARN (lag
// rising), STALL (Burrow's ERR: a live consumer does not move), STOP (not
// committing) or REWIND, plus the lag in messages and in time (how old the
// oldest unconsumed message is, interpolated from the end offsets). The rules
// and their order are LinkedIn Burrow's ([EvaluateCommits] on the commit
// history the samples show; Burrow's own evaluator cases are ported in
// testdata/burrow_evaluator), with documented extensions that are off in
// [CommitRules]' zero value: StallAfter (STOP or STALL once a partition
// with lag has gone that long without a new offset, where Burrow waits
// for the gap to outgrow its history's span), CommitInterval (tolerance of
// consumers that commit only every checkpoint, as Flink does: set
// [LagConfig].CommitInterval to the checkpoint interval) and MinCommits.
//
// A [Tracker] keeps the sliding windows of many groups and partitions and
// turns status changes into [Event]s (start, update, end). A [Monitor] feeds
// a Tracker from Kafka through franz-go's kadm, sends events on a channel and
// writes them (and the samples, for replay) as JSON lines. [ReadSamples] and
// [Replay] evaluate a recorded sample file offline.
//
// # Evidence
//
// Collectors sit behind small interfaces so other sources can be added:
// [JobSource] ([FlinkClient]: job state, exception history, checkpoints,
// per-subtask busy/back-pressure/input rates, TaskManager GC — from
// TimeMsPerSecond on Flink 1.19+, from two reads of the cumulative GC time
// before — and flame graphs),
// [MetricsSource] ([PrometheusClient]: the metrics history, turned into
// window averages by [PromQueries]) and [LogSource] ([LogFiles]). A
// [Diagnoser] collects an [Evidence] for a [Query]; whatever a source cannot
// give (unreachable, unknown job, unparsable log lines, binary data or
// over-long lines in a log, which is still read to its end) is recorded
// as [Missing] evidence and never fails the diagnosis; a configured source
// that gives nothing makes the verdict UNKNOWN ([VerdictUnknown]), never
// HEALTHY. [ReplayHandler] serves
// recorded API responses, so "file://DIR" works wherever a Flink or
// Prometheus URL is expected.
//
// # Rules
//
// A [Rule] draws [Finding]s from evidence. [DefaultRules] are, in report
// order: [RestartRule] (the root exception of each failure, classified by
// [KeywordRules] from a YAML rule file — dirty data with the raw record,
// out of memory, checkpoint failure, Kafka connectivity, missing class or
// UDF), [CheckpointRule], and when the job did not restart [BottleneckRule],
// [GCRule], [SkewRule] and [HotMethodRule], then the source-side
// [PartitionLagRule] (stuck partition or producer skew). The embedded rule
// file ([DefaultRulesYAML]) is the template for a custom one.
//
// # Reports
//
// A [Report] renders as JSON ([Report.WriteJSON]), a terminal table
// ([Report.WriteText]) and one self-contained HTML page ([Report.WriteHTML])
// with a green/red timeline marking restarts, an inline SVG chart of each
// partition's lag, and the list of checks that ran and passed ([CheckResult],
// from rules that implement [Preconditions]). The page is tested in headless
// Chromium at 1400 and 800 px (skipped without chromium on PATH unless
// HOTCOLD_REQUIRE_CHROMIUM=1). [WriteReport] stores all three in a
// [ReportSink]: a directory ([DirSink]) or a gocloud.dev/blob bucket
// ([BlobSink]). A [Watcher] writes a report when an anomaly starts, worsens
// and ends.
//
// # Example
//
//	fc, _ := diag.NewFlinkClient("http://jobmanager:8081", diag.FlinkOptions{})
//	pc, _ := diag.NewPrometheusClient("http://prometheus:9090", nil)
//	d, _ := diag.NewDiagnoser(diag.DiagnoserConfig{Jobs: fc, Metrics: pc,
//		Logs: &diag.LogFiles{Paths: []string{"/var/log/flink"}}})
//	r := d.Diagnose(ctx, diag.Query{JobID: jobID, Window: diag.Window{From: from, To: to}})
//	r.WriteText(os.Stdout)
//
// # Concurrency
//
// Evaluate, the collectors, the built-in rules and Diagnoser are safe for
// concurrent use. Tracker is not. A Monitor's Run and Tick must not overlap;
// its History may be called from any goroutine. Metrics are registered only
// on the prometheus.Registerer passed in, and logs go only to the
// *slog.Logger passed in.
package diag

// doccheck:
//	var ctx context.Context
//	var jobID string
//	var from, to time.Time
