# Everything a newcomer needs, from a fresh machine with Python 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install -q -c constraints.txt
TEST_STATE := $(CURDIR)/.test-sandbox
# This clone's demo sandbox (gpu-sandbox's default for this venv), named
# explicitly so a GPU_SANDBOX_STATE_DIR exported for another clone is ignored.
DEMO_STATE := $(CURDIR)/$(VENV)/var/gpu-sandbox
SANDBOX := $(BIN)/gpu-sandbox --state-dir $(DEMO_STATE)

.PHONY: demo test test-releases functional-release unit functional bench docs lint stop clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# One stamp per dependency set: re-run only when its inputs change.
$(VENV)/.installed: $(BIN)/python setup.cfg sandbox/setup.cfg requirements.txt constraints.txt
	$(PIP) -e . -e ./sandbox
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed test-requirements.txt doc/requirements.txt
	$(PIP) -r test-requirements.txt -r doc/requirements.txt
	touch $@

# Debian's prometheus, promtool and node_exporter for the tests that run
# them (tests/functional/test_prometheus.py): the system's, else the
# packages unpacked into the venv. Stamped only once they are there, so a
# machine that could not fetch them tries again next time (and the tests
# skip, saying so).
$(VENV)/.installed-prometheus: tools/install-prometheus.sh
	bash tools/install-prometheus.sh $(VENV)/prometheus
	if [ -x $(VENV)/prometheus/bin/prometheus ]; then touch $@; fi

# The demo's sandbox gets a scenario (GPU flavors and servers of each
# kind); `gpu-sandbox start` alone, as the tests run it, stays clean.
demo: $(VENV)/.installed
	$(SANDBOX) start
	$(SANDBOX) scenario
	@echo
	@echo '$$ openstack gpu device list'
	@. ./$(BIN)/activate && eval "$$($(SANDBOX) env)" && openstack gpu device list
	@echo
	@echo '$$ openstack gpu device summary'
	@. ./$(BIN)/activate && eval "$$($(SANDBOX) env)" && openstack gpu device summary
	@echo
	@echo 'Try next, in your shell (the sandbox keeps running):'
	@echo '  . $(BIN)/activate && eval "$$(gpu-sandbox env --state-dir $(DEMO_STATE))"'
	@$(SANDBOX) scenario --next
	@echo '  make stop                      # when done'

# All tests: unit tests (no Nova needed: tox -e py3), then tests/nova (our
# nova.conf reading and the sandbox's fleet against Nova's own code), then
# functional tests against a sandbox started
# for the run (its own state dir, so a demo sandbox is left alone): the
# default fleet first, then, once it is stopped, the legacy fleet (PCI not
# in Placement) for tests/functional/legacy, then tests/functional/rehearsal,
# whose tests (rehearsals, gpu-sandbox's own start and stop) start their own
# one-host sandboxes one at a time. Never two sandboxes at once. The default
# fleet's run includes Prometheus scraping the exporter (test_prometheus).
# Last, the default fleet's suite again on 2024.1 (functional-release).
FUNCTIONAL := GPU_SANDBOX_STATE_DIR=$(TEST_STATE) $(BIN)/stestr --test-path tests/functional run --concurrency 1
test: $(VENV)/.installed-test $(VENV)/.installed-prometheus
	$(BIN)/stestr --test-path tests/unit run
	$(BIN)/stestr --test-path tests/nova run
	$(BIN)/gpu-sandbox --state-dir $(TEST_STATE) stop >/dev/null
	$(BIN)/gpu-sandbox --state-dir $(TEST_STATE) start
	$(FUNCTIONAL) --exclude-regex '^tests\.functional\.(legacy|rehearsal)\.'; \
	  rc=$$?; $(BIN)/gpu-sandbox --state-dir $(TEST_STATE) stop; exit $$rc
	$(BIN)/gpu-sandbox --state-dir $(TEST_STATE) start --fleet legacy
	$(FUNCTIONAL) '^tests\.functional\.legacy\.'; \
	  rc=$$?; $(BIN)/gpu-sandbox --state-dir $(TEST_STATE) stop; exit $$rc
	$(FUNCTIONAL) '^tests\.functional\.rehearsal\.'
	$(MAKE) --no-print-directory functional-release RELEASE=2024.1

# The default fleet's functional suite on an older release's Nova,
# Placement and Keystone (gpu-sandbox start --release: a virtualenv of that
# release, made on first use). The plugin is the same; the install test is
# client-side only, so it runs once, above.
functional-release: $(VENV)/.installed-test $(VENV)/.installed-prometheus
	$(BIN)/gpu-sandbox --state-dir $(TEST_STATE) stop >/dev/null
	$(BIN)/gpu-sandbox --state-dir $(TEST_STATE) start --release $(RELEASE)
	$(FUNCTIONAL) --exclude-regex '^tests\.functional\.(legacy|rehearsal|test_install)\b'; \
	  rc=$$?; $(BIN)/gpu-sandbox --state-dir $(TEST_STATE) stop; exit $$rc

# Every release the sandbox runs: make test (2026.2 and 2024.1), then 2025.2.
test-releases: test
	$(MAKE) --no-print-directory functional-release RELEASE=2025.2

$(VENV)/.installed-bench: $(VENV)/.installed-test tools/bench-requirements.txt
	$(PIP) -r tools/bench-requirements.txt
	touch $@

# Seeds Placement at 100, 1000 and 5000 GPUs (kept in .bench/) and runs it
# beside the sandbox cloud (its real Nova): two servers at once, ~8 min
# (~11 min the first time, seeding).
bench: $(VENV)/.installed-bench
	$(BIN)/python tools/bench.py

docs: $(VENV)/.installed-test
	$(BIN)/sphinx-build -W -b html doc/source doc/build/html

lint: $(VENV)/.installed-test
	$(BIN)/ruff check gpuclient sandbox tests tools

stop:
	-$(SANDBOX) stop

clean: stop
	rm -rf $(VENV) $(TEST_STATE) doc/build .stestr
