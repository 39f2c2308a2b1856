# Developer entry points. The DSNs default to the local services this
# project's machines run; override them in the environment.
export DBTEST_POSTGRES_DSN ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
export DBTEST_MYSQL_DSN ?= root@tcp(127.0.0.1:3306)/test

GO ?= go
FUZZTIME ?= 10s
STATICCHECK ?= staticcheck
STATICCHECK_VERSION = v0.8.2

.PHONY: run test bench fuzz lint services

# The main job: every scenario on the embedded SQLite.
run:
	$(GO) run ./cmd/dbharness run

# Every test on every backend, with the race detector.
test:
	$(GO) test -race -count=1 ./...

# dbharness side by side with go-txdb, pgtestdb, testfixtures and pandas
# (bench/, a module of its own): prints a table, writes bench/results/.
bench:
	cd bench && $(GO) run ./cmd/benchreport

# Each fuzz target of the module for a short while.
fuzz:
	@set -e; for f in $$(grep -l '^func Fuzz' $$(git ls-files '*_test.go')); do \
	  pkg=./$$(dirname $$f); \
	  for t in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$f | cut -d' ' -f2); do \
	    echo "fuzz $$pkg $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

# gofmt, go vet and staticcheck (go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)).
lint:
	test -z "$$(gofmt -l $$(git ls-files '*.go'))"
	$(GO) vet ./...
	$(STATICCHECK) ./...

# Install (when missing) and start PostgreSQL and MariaDB locally.
services:
	bash .ci/services.sh

.PHONY: container-images test-containers

# Local PostgreSQL and MariaDB images from Debian's packages, for a Docker
# engine that reaches no registry (DOCKER_HOST is honoured). Prints their
# names; DBTEST_POSTGRES_IMAGE and DBTEST_MYSQL_IMAGE take them.
container-images:
	bash scripts/containers/build-images.sh

# Every test against containers started by Testcontainers, on a Docker
# engine of its own with host networking (needs root; stopped at the end).
test-containers:
	bash scripts/containers/tier.sh
