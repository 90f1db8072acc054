#!/usr/bin/env bash
# Reproduces the backend figures of BENCHMARKS.md: each backend's benchmarks
# (the backend and the raw client library doing the same work on the same
# in-process server) run in ROUNDS interleaved rounds, one process per
# package per round, so a slow spell on a shared machine hits both sides of
# every comparison. Output: benchmarks/<package>.txt, for benchstat.
#
#	bash benchmarks/run.sh                 # every backend, 6 rounds
#	ROUNDS=3 bash benchmarks/run.sh kafka  # one backend
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-6}
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(kafka jetstream pubsub pulsar servicebus)

# What each package runs: a -test.bench pattern and a fixed iteration count
# (fixed so every round does the same work).
args() {
	case $1 in
	kafka) echo "-test.bench ^Benchmark(Consume|Publish)$ -test.benchtime 1000000x" ;;
	jetstream) echo "-test.bench ^Benchmark(Consume|Log|Publish)$ -test.benchtime 20000x" ;;
	pubsub) echo "-test.bench ^Benchmark(Receive|Publish|BatchPublish)$ -test.benchtime 1s" ;;
	pulsar) echo "-test.bench ^BenchmarkInterleaved$ -test.benchtime 30000x" ;;
	servicebus) echo "-test.bench ^Benchmark(Publish|BatchPublish|ReceiveComplete)$ -test.benchtime 10000x" ;;
	*) echo "unknown package $1" >&2; exit 2 ;;
	esac
}

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
for p in "${pkgs[@]}"; do
	go test -c -o "$bin/$p.test" "./$p/"
	: >"benchmarks/$p.txt"
done
for r in $(seq "$rounds"); do
	for p in "${pkgs[@]}"; do
		echo "== round $r/$rounds: $p" >&2
		# Run from the package directory, as go test does.
		(cd "$p" && "$bin/$p.test" -test.run '^$' $(args "$p") -test.benchmem) >>"benchmarks/$p.txt"
	done
done
