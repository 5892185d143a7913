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
}
