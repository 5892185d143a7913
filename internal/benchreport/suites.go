package main

// suites lists every benchmark an issue names, in issue order.
var suites = []suite{
	{
		Title:     "#2 row: key and value encodings",
		Pkg:       "./row",
		Bench:     "^Benchmark(KeyEncode3|KeyEncode3JSON|ValueDecode10|ValueDecode10JSON|ValueEncode10)$",
		Benchtime: "1s",
		Notes:     "Key encode of a 3-column key and value decode of a 10-column row: each under 150 ns/op, 0 allocs on decode. Baselines: the same key and row as JSON.",
		Pairs: []pair{
			{Name: "BenchmarkKeyEncode3", Baseline: "BenchmarkKeyEncode3JSON", Want: "faster than JSON"},
			{Name: "BenchmarkValueDecode10", Baseline: "BenchmarkValueDecode10JSON", Want: "faster than JSON"},
		},
		Targets: []target{
			{Name: "BenchmarkKeyEncode3", Metric: "ns/op", Want: "< 150", Max: 150},
			{Name: "BenchmarkValueDecode10", Metric: "ns/op", Want: "< 150", Max: 150},
			{Name: "BenchmarkValueDecode10", Metric: "allocs/op", Want: "0", Max: 0.5},
		},
	},
	{
		Title:     "#8 diag: lag evaluation of 10,000 partitions per tick",
		Pkg:       "./diag",
		Bench:     "^BenchmarkEvaluate10kPartitions$",
		Benchtime: "30x",
		Count:     3,
		Notes:     "One monitor tick over 10,000 partitions (100 groups x 100 partitions, 60-sample windows, Flink-style commits every minute): observe the new samples and evaluate every partition. Target: well under 100 ms; the fastest of 3 runs is reported.",
		Targets: []target{
			{Name: "BenchmarkEvaluate10kPartitions", Metric: "ns/op", Want: "< 100 ms (1e8 ns)", Max: 1e8},
		},
	},
	{
		Title:     "#3 coldstore: bulk load of 1M rows x 8 columns",
		Pkg:       "./coldstore",
		Bench:     "^BenchmarkLoad1M$",
		Benchtime: "2x",
		Count:     3,
		Notes:     "1M rows x 8 columns (~100 B value, keys shuffled) from one Parquet file into the Pebble backend. /ingest: Load with the default sstable compression (MinLZ): Parquet decode, encoding straight from the Arrow columns, external sort, sstables, Ingest, atomic publish. /ingest-uncompressed: the same with Compression \"none\" (pebble:DIR?compression=none). /batch-Nk: the same rows, read and encoded the same way, written with Pebble batches of N thousand rows, then a flush. Targets: >= 1M rows/s through ingest, >= 5x faster than batches (judged against every batch size). Each benchmark runs 3 times (-count 3) and the fastest run is kept, which filters out the drift of this shared VM.",
		Pairs: []pair{
			{Name: "BenchmarkLoad1M/ingest", Baseline: "BenchmarkLoad1M/batch-1k", Want: ">= 5x", Min: 5},
			{Name: "BenchmarkLoad1M/ingest", Baseline: "BenchmarkLoad1M/batch-10k", Want: ">= 5x", Min: 5},
			{Name: "BenchmarkLoad1M/ingest", Baseline: "BenchmarkLoad1M/batch-100k", Want: ">= 5x", Min: 5},
			{Name: "BenchmarkLoad1M/ingest-uncompressed", Baseline: "BenchmarkLoad1M/batch-1k", Want: ">= 5x", Min: 5},
			{Name: "BenchmarkLoad1M/ingest-uncompressed", Baseline: "BenchmarkLoad1M/batch-10k", Want: ">= 5x", Min: 5},
			{Name: "BenchmarkLoad1M/ingest-uncompressed", Baseline: "BenchmarkLoad1M/batch-100k", Want: ">= 5x", Min: 5},
		},
		Targets: []target{
			{Name: "BenchmarkLoad1M/ingest", Metric: "rows/s", Want: ">= 1,000,000", Min: 1e6},
		},
	},
	{
		Title:     "#3 coldstore: Pebble reads on a warm cache",
		Pkg:       "./coldstore",
		Bench:     "^Benchmark(PebbleGet|PebbleMultiGet256)$",
		Benchtime: "1s",
		Count:     3,
		Notes:     "Random keys of a 1M-row x 8-column table. /pinned: the default read path for a version that fits PinMemory (256 MiB by default): the version is copied into memory with a hash index when first read, and lookups skip Pebble. /blockcache: pinning off (as for a version larger than PinMemory), every lookup through Pebble's iterator with every block in the block cache. Fastest of 3 runs. Targets: Get <= 1.5 us/op; MultiGet of 256 keys <= 0.7 us/key.",
		Pairs: []pair{
			{Name: "BenchmarkPebbleGet/pinned", Baseline: "BenchmarkPebbleGet/blockcache", Want: "reported"},
			{Name: "BenchmarkPebbleMultiGet256/pinned", Baseline: "BenchmarkPebbleMultiGet256/blockcache", Want: "reported"},
		},
		Targets: []target{
			{Name: "BenchmarkPebbleGet/pinned", Metric: "ns/op", Want: "<= 1500", Max: 1500},
			{Name: "BenchmarkPebbleMultiGet256/pinned", Metric: "ns/key", Want: "<= 700", Max: 700},
			{Name: "BenchmarkPebbleGet/blockcache", Metric: "ns/op", Want: "reported (tables larger than PinMemory)"},
			{Name: "BenchmarkPebbleMultiGet256/blockcache", Metric: "ns/key", Want: "reported (tables larger than PinMemory)"},
		},
	},
	{
		Title:     "#3 coldstore: Redis backend MultiGet of 256 keys vs redis-benchmark MGET",
		Pkg:       "./coldstore",
		Bench:     "^BenchmarkRedisMultiGet256$",
		Benchtime: "2s",
		Notes:     "One redis-server started by the benchmark; the backend's MultiGet of 256 keys (one MGET plus key encoding and row decoding) against redis-benchmark sending MGET of the same 256 keys, both over one connection without pipelining.",
		Pairs: []pair{
			{Name: "BenchmarkRedisMultiGet256/hotcold", Baseline: "BenchmarkRedisMultiGet256/redis-benchmark", Want: "reported"},
		},
	},
	{
		Title: "#4 / #17 sidecar: lookups through the sidecar versus Redis, client and server in separate processes (recorded)",
		Cmd:   []string{"cat", "internal/benchreport/recorded/sidecar-vs-redis.md"},
		Notes: "Recorded because it runs two processes (the sidecar as a child of the benchmark) for several minutes; re-measure with `go build -o /tmp/benchvsredis ./sidecar/internal/benchvsredis && nice /tmp/benchvsredis` (it prints one run's section; the recorded file adds a summary of three runs and the profiling notes). It starts its own redis-server holding the same keys; interleaved rounds; medians. Targets (issue #17): auto-batched Gets/s >= 0.5x redis-benchmark -t get -P 16 -c 50 and <= 3 µs CPU per Get (client + server); BatchLookup of 256 keys >= 0.5x redis-benchmark MGET of 256 keys; unary Lookup at 50% of peak p50 <= 0.4 ms, p99 <= 2 ms, unix socket <= TCP.",
	},
	{
		Title: "#17 sidecar: hand-written wire codec vs generated protobuf-go and vtprotobuf, 256 keys (recorded)",
		Cmd:   []string{"cat", "internal/benchreport/recorded/codec-hand-vs-generated.md"},
		Notes: "The hand and protobuf-go halves re-measure with `go test -run '^$' -bench BenchmarkCodec ./sidecar/`; the vtprotobuf half needs a module outside the tree (see the section).",
	},
	{
		Title:     "#5 join: orders/refunds over 30 days, hot/cold vs 30-day state (200k orders/day)",
		Pkg:       "./join/runner",
		Bench:     "^BenchmarkOrdersRefunds30Days$",
		Benchtime: "1x",
		Args:      []string{"-orders-per-day", "200000"},
		Notes:     "30 days x 200,000 orders/day, 5% refunded up to 30 days later. The same operator with RetentionDays 2 + cold store (hot/cold) and with RetentionDays 30 and no cold store (baseline), in one run; bootstrap = a new runner over kfake catching up its start window. Targets: identical merged output; state >= 10x smaller; records/s >= 0.8x; bootstrap >= 10x shorter. The ratios are reported by the benchmark as metrics.",
		Targets: []target{
			{Name: "BenchmarkOrdersRefunds30Days", Metric: "state-sstable-ratio", Want: ">= 10x", Min: 10},
			{Name: "BenchmarkOrdersRefunds30Days", Metric: "state-checkpoint-ratio", Want: ">= 10x", Min: 10},
			{Name: "BenchmarkOrdersRefunds30Days", Metric: "throughput-ratio-wall", Want: ">= 0.8x", Min: 0.8},
			{Name: "BenchmarkOrdersRefunds30Days", Metric: "bootstrap-speedup", Want: ">= 10x", Min: 10},
		},
	},
	{
		Title:     "#5 join: operator alone on hot hits, one core",
		Pkg:       "./join",
		Bench:     "^BenchmarkOperatorHotHits$",
		Benchtime: "800000x",
		Count:     3,
		Env:       []string{"GOMAXPROCS=1"},
		Args:      []string{"-test.cpu", "1"},
		Notes:     "Refunds whose order is in hot state; each record is one hot lookup, one output row and one state write. records/cpu-s counts CPU time of the whole process on one core.",
		Targets: []target{
			{Name: "BenchmarkOperatorHotHits", Metric: "records/cpu-s", Want: ">= 300,000", Min: 300000},
		},
	},
	{
		Title:     "#6 statemigrate: Apply over 1M join state rows",
		Pkg:       "./statemigrate",
		Bench:     "^BenchmarkApply$",
		Benchtime: "3x",
		Notes:     "rewrite: every row re-encoded (a column dropped); metadata: rows copied as they are (a column appended); baselines: a plain Pebble batch copy and a plain sstable copy without decoding. Target: >= 1M rows/s, memory bounded.",
		Pairs: []pair{
			{Name: "BenchmarkApply/rewrite", Baseline: "BenchmarkApply/baseline-batch", Metric: "rows/s", Want: "reported"},
			{Name: "BenchmarkApply/rewrite", Baseline: "BenchmarkApply/baseline-sst", Metric: "rows/s", Want: "reported"},
		},
		Targets: []target{
			{Name: "BenchmarkApply/rewrite", Metric: "rows/s", Want: ">= 1,000,000", Min: 1e6},
			{Name: "BenchmarkApply/metadata", Metric: "rows/s", Want: ">= 1,000,000", Min: 1e6},
		},
	},
	{
		Title:     "#7 mock: replay at full speed into kfake",
		Pkg:       "./mock",
		Bench:     "^BenchmarkReplay$",
		Benchtime: "10x",
		Notes:     "Each iteration replays a case with FullSpeed into kfake and, in the same loop, a raw kgo async produce of the same records (baseline-msgs/s). Target: >= 100k messages/s.",
		Targets: []target{
			{Name: "BenchmarkReplay/sources-one-after-the-other", Metric: "msgs/s", Want: ">= 100,000", Min: 1e5},
			{Name: "BenchmarkReplay/interleaved-runs-of-1000", Metric: "msgs/s", Want: ">= 100,000", Min: 1e5},
			{Name: "BenchmarkReplay/sources-one-after-the-other", Metric: "ratio", Want: "vs raw kgo produce, same loop"},
			{Name: "BenchmarkReplay/interleaved-every-message", Metric: "msgs/s", Want: "order kept message by message"},
		},
	},
	{
		Title: "#10 demo: end-to-end hot/cold join vs the full-retention baseline",
		Cmd:   []string{"go", "run", "./cmd/hotcold", "demo", "--markdown", "--quiet", "--days", "30", "--orders-per-day", "20000"},
		Notes: "The whole demo at its default size on in-process Kafka: the hot/cold job (2 days hot, cold store behind the sidecar) and the full-retention baseline, fed live; bootstrap = a fresh job catching up. Targets: identical merged outputs, smaller hot/cold state, the whole run under 2 minutes.",
	},
	{
		Title: "#15 runner core: join and agg records/s, old runners vs the shared core (recorded)",
		Cmd:   []string{"cat", "internal/benchreport/recorded/runner-core-old-vs-new.md"},
	},
	{
		Title:     "#15 runner core: join through the shared core on kfake",
		Pkg:       "./join/runner",
		Bench:     "^BenchmarkJoinRunner$",
		Benchtime: "3x",
		Count:     3,
		Notes:     "A new join job on kfake reads 10 days x 1,000 orders plus their refunds (3 partitions) from the earliest offsets until every record is committed. Its old-runner baseline is the recorded section above.",
	},
	{
		Title:     "#15 runner core: agg through the shared core on kfake",
		Pkg:       "./agg/runner",
		Bench:     "^BenchmarkAggRunner$",
		Benchtime: "3x",
		Count:     3,
		Notes:     "A new agg job on kfake aggregates 30,000 changelog records (a tenth retractions, 50 cities, 3 partitions) until every record is committed and delivered. Its agg.Runner baseline is the recorded section above.",
	},
	{
		Title: "#16 Flink: HOTCOLD_JOIN (heap) vs Flink's regular join (RocksDB) (recorded)",
		Cmd:   []string{"cat", "internal/benchreport/recorded/hotcold-join-flink.md"},
	},
}
