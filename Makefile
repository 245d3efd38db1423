# The subunit toolkit: build, test, install.
#
#   make                 build the release binaries
#   make check           every test and lint (what CI runs)
#   make install PREFIX=/usr/local DESTDIR=
#   make generate        rewrite man/ and completions/ from the clap definitions
#   make bench           one table: each command beside cat and python-subunit,
#                        memory; then the reader on adversarial input
#                        (BENCH_MIB=16 for a quick run: benches/compare.sh)
#   make fuzz            each fuzz target for FUZZ_SECONDS (nightly, cargo-fuzz)

PREFIX ?= /usr/local
DESTDIR ?=
CARGO ?= cargo
PYTHON ?= python3
INSTALL ?= install

BINDIR := $(DESTDIR)$(PREFIX)/bin
MANDIR := $(DESTDIR)$(PREFIX)/share/man/man1
BASHDIR := $(DESTDIR)$(PREFIX)/share/bash-completion/completions
ZSHDIR := $(DESTDIR)$(PREFIX)/share/zsh/site-functions
FISHDIR := $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d

COMMANDS := $(basename $(notdir $(wildcard src/bin/*.rs)))

# python-subunit for the interop tests, in target/venv/bin: PYTHON's own
# when it imports subunit (a distro's python3-subunit, or
# PYTHON=/path/to/python), else the pinned release from PyPI in a
# virtualenv. With neither, the interop tests are skipped and counted.
VENV := target/venv
# junitxml: what python-subunit's subunit2junitxml writes with (not a
# dependency of python-subunit itself). pytest: runs port-alloc's pytest
# recipe (tests/recipes/, by tests/port_alloc_recipes.rs).
PYTHON_SUBUNIT := python-subunit==1.4.6 junitxml==0.7 pytest==9.2.0
SKIPS := target/interop-skipped

# Where cargo puts what it builds (CARGO_TARGET_DIR, a config file, or
# target/), as cargo itself says.
TARGET_DIR = $(shell $(CARGO) metadata --format-version 1 --no-deps --offline | \
	sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')

.PHONY: all build check test lint install uninstall generate bench venv fuzz

# The fuzz targets (fuzz/fuzz_targets/*.rs; their checks in tests/fuzz/).
# Each starts from its checked-in corpus, tests/data/fuzz/TARGET/, which
# `make check` replays; what a run learns goes to fuzz/corpus/ (not kept),
# and a crash to fuzz/artifacts/TARGET/: copy it into the checked-in corpus
# with a name saying what it found, and fix it.
FUZZ_SECONDS ?= 600
FUZZ_MAX_LEN ?= 65536
FUZZ_TARGETS := $(basename $(notdir $(wildcard fuzz/fuzz_targets/*.rs)))

all: build

build:
	$(CARGO) build --release --locked

venv:
	@tests/py/python-subunit.sh "$(PYTHON)" $(VENV) "$(PYTHON_SUBUNIT)"

test: venv
	@mkdir -p $(dir $(SKIPS)) && rm -f $(SKIPS)
	@SUBUNIT_PYTHON_VENV=$(CURDIR)/$(VENV) SUBUNIT_INTEROP_SKIPS=$(CURDIR)/$(SKIPS) \
		$(CARGO) test --locked; status=$$?; \
	if [ -s $(SKIPS) ]; then \
		echo "WARNING: $$(wc -l < $(SKIPS)) interop tests were SKIPPED: no python-subunit" \
			"(see tests/py/python-subunit.sh; CI=true makes this a failure)" >&2; \
	fi; exit $$status

lint:
	$(CARGO) clippy --locked --all-targets -- -D warnings
	$(CARGO) fmt --check
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --locked --no-deps --quiet

check: test lint

generate:
	UPDATE_GENERATED=1 $(CARGO) test --locked --test generated

bench: venv
	benches/compare.sh
	benches/adversarial.sh
	benches/html_open.sh

install: build
	@release="$(TARGET_DIR)/release"; [ -d "$$release" ] || \
		{ echo "make install: cannot find cargo's target directory" >&2; exit 1; }
	$(INSTALL) -d $(BINDIR) $(MANDIR) $(BASHDIR) $(ZSHDIR) $(FISHDIR)
	for c in $(COMMANDS); do \
		$(INSTALL) -m 755 "$(TARGET_DIR)/release/$$c" $(BINDIR)/$$c && \
		$(INSTALL) -m 644 man/$$c.1 $(MANDIR)/$$c.1 && \
		$(INSTALL) -m 644 completions/$$c.bash $(BASHDIR)/$$c && \
		$(INSTALL) -m 644 completions/_$$c $(ZSHDIR)/_$$c && \
		$(INSTALL) -m 644 completions/$$c.fish $(FISHDIR)/$$c.fish || exit 1; \
	done

uninstall:
	for c in $(COMMANDS); do \
		rm -f $(BINDIR)/$$c $(MANDIR)/$$c.1 $(BASHDIR)/$$c $(ZSHDIR)/_$$c $(FISHDIR)/$$c.fish; \
	done

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/corpus/$$t && \
		echo "fuzzing $$t for $(FUZZ_SECONDS) s" && \
		$(CARGO) +nightly fuzz run -O $$t fuzz/corpus/$$t tests/data/fuzz/$$t -- \
			-max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAX_LEN) -timeout=10 -print_final_stats=1 || exit 1; \
	done
