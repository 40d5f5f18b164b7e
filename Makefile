.DEFAULT_GOAL := help
SHELL := /bin/bash

PKGS := $(shell go list -m -f '{{.Path}}/...')
DIRS := $(shell go list -m -f '{{.Dir}}')
# Pinned; the first run compiles it with cgo (a few minutes), later runs come from the build cache.
SQLC := go run github.com/sqlc-dev/sqlc/cmd/sqlc@v1.31.1
STATICCHECK := go run honnef.co/go/tools/cmd/staticcheck@v0.8.2

# What make run needs: stripesync dev, and the sender its start-up screen
# names. The other binaries would cost a link each on every run.
DEV_CMDS := ./services/stripesync/cmd/stripesync ./services/ingest/cmd/send-test-event
# make run compiles them without optimisations or inlining: the first build
# on a machine (empty Go build cache, two cores) takes 45 s instead of 67 s,
# which is what brings a newcomer's first row under a minute. A demo needs no
# more speed; make build makes the optimised binaries, and overwrites these.
DEV_GCFLAGS := all=-N -l

build: ## bin/stripesync bin/ingest bin/processor bin/syncer bin/send-test-event bin/fakestripe
	go build -o bin/ $(DEV_CMDS) ./services/ingest/cmd/ingest ./services/processor/cmd/processor ./services/syncer/cmd/syncer ./pkg/stripefake/cmd/fakestripe

services: ## start PostgreSQL and NATS on this machine if they are down
	@.ci/services

test: services fuzz-quick ## make fuzz-quick, then all modules, race detector on (needs PostgreSQL; starts it if down), then make prove PROVE=quick
	go test -race -count=1 -timeout 10m $(PKGS)
	$(MAKE) prove PROVE=quick

FUZZTIME ?= 10s
# Every fuzz target, as package directory:name; go test -fuzz runs one at a
# time. Their seed corpora are in each package's testdata/fuzz/<name>, and
# plain go test runs those.
FUZZ_TARGETS := \
	pkg/events:FuzzParseEnvelope \
	pkg/events:FuzzParseSnapshotEnvelope \
	pkg/events:FuzzParseThinEnvelope \
	pkg/events/envflag:FuzzRedact \
	services/ingest/internal/webhook:FuzzVerify

fuzz: ## run each fuzz target for FUZZTIME (default 10s) and print its executions
	@for t in $(FUZZ_TARGETS); do \
		dir=$${t%%:*}; name=$${t##*:}; log=$$(mktemp); \
		if ! (cd $$dir && go test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) .) >$$log 2>&1; then \
			cat $$log; rm -f $$log; echo "$$name FAILED: the input is in $$dir/testdata/fuzz/$$name"; exit 1; \
		fi; \
		last=$$(grep 'execs: [0-9]*' $$log | tail -1); rm -f $$log; \
		execs=$$(echo "$$last" | grep -o 'execs: [0-9]*' | cut -d' ' -f2); \
		elapsed=$$(echo "$$last" | grep -o 'elapsed: [0-9a-z.]*' | cut -d' ' -f2); \
		printf '%-26s %-33s %12s execs in %s\n' $$name $$dir $$execs $$elapsed; \
	done

fuzz-quick: ## each fuzz target for 3s, as make test does
	@$(MAKE) --no-print-directory fuzz FUZZTIME=3s

generate: ## queries/objects.sql and the sqlc code, from the registry and the migrations
	cd db && go run ./internal/genqueries && GOWORK=off $(SQLC) generate

verify: ## generated code, go.mod files and formatting are current
	cd db && go run ./internal/genqueries -check
	cd db && GOWORK=off $(SQLC) diff
	for d in $(DIRS); do (cd $$d && GOWORK=off go mod tidy -diff) || exit 1; done
	@out=$$(gofmt -l $(DIRS)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

lint: ## go vet and staticcheck in every module
	go vet $(PKGS)
	$(STATICCHECK) $(PKGS)

run: ## the whole mirror in one process, bin/stripesync dev (needs PostgreSQL; starts it if down)
	go build -gcflags='$(DEV_GCFLAGS)' -o bin/ $(DEV_CMDS)
	@.ci/services postgres
	bin/stripesync dev

nats-server: ## bin/nats-server, the version the modules pin, for the benchmarks
	go build -o bin/nats-server github.com/nats-io/nats-server/v2

bench: build services nats-server ## drive the real services and print each figure beside its ceiling, and freshness at 1,000 and 5,000 events/s
	go run ./bench $(BENCH_FLAGS)
	go test -run '^$$' -bench Backfill -benchtime 1x ./services/syncer/

PROVE ?= full
# Full mode ends with make fuzz, each target for PROVE_FUZZTIME.
PROVE_FUZZTIME ?= 60s
prove: build ## faults under load over real processes, one table (PROVE=quick: the CI run, about a minute)
	go build -o bin/nats-server github.com/nats-io/nats-server/v2
	FUZZTIME=$(PROVE_FUZZTIME) go run ./prove/cmd/prove -mode $(PROVE)

prove-quick: ## make prove PROVE=quick
	$(MAKE) prove PROVE=quick

SOAK_RATE ?= 1000
SOAK_MINUTES ?= 2
soak: build services nats-server ## SOAK_RATE webhooks/s for SOAK_MINUTES through the real services: freshness, memory and lag over time, a table and bench/out/soak.png
	go run ./bench soak -rate $(SOAK_RATE) -duration $(SOAK_MINUTES)m $(SOAK_FLAGS)

help:
	@awk -F ':.*## ' '/^[a-z\/-]+:.*## /{printf "%-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build services test fuzz fuzz-quick generate verify lint run nats-server bench prove prove-quick soak help
