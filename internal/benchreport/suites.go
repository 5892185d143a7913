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
}
