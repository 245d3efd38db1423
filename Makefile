# The subunit toolkit: build, test, install.
#
#   make                 build the release binaries
#   make check           every test and lint (what CI runs)
#   make install PREFIX=/usr/local DESTDIR=
#   make generate        rewrite man/ and completions/ from the clap definitions
#   make bench           benchmarks side by side with python-subunit

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

# python-subunit for the interop tests, pinned, in a virtualenv under target/.
VENV := target/venv
PYTHON_SUBUNIT := python-subunit==1.4.6

.PHONY: all build check test lint install uninstall generate bench venv

all: build

build:
	$(CARGO) build --release --locked

venv: $(VENV)/.installed

$(VENV)/.installed:
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check $(PYTHON_SUBUNIT)
	touch $@

test: venv
	SUBUNIT_PYTHON_VENV=$(CURDIR)/$(VENV) $(CARGO) test --locked

lint:
	$(CARGO) clippy --locked --all-targets -- -D warnings
	$(CARGO) fmt --check

check: test lint

generate:
	UPDATE_GENERATED=1 $(CARGO) test --locked --test generated

bench: venv
	benches/compare.sh

install: build
	$(INSTALL) -d $(BINDIR) $(MANDIR) $(BASHDIR) $(ZSHDIR) $(FISHDIR)
	for c in $(COMMANDS); do \
		$(INSTALL) -m 755 target/release/$$c $(BINDIR)/$$c && \
		$(INSTALL) -m 644 man/$$c.1 $(MANDIR)/$$c.1 && \
		$(INSTALL) -m 644 completions/$$c.bash $(BASHDIR)/$$c && \
		$(INSTALL) -m 644 completions/_$$c $(ZSHDIR)/_$$c && \
		$(INSTALL) -m 644 completions/$$c.fish $(FISHDIR)/$$c.fish || exit 1; \
	done

uninstall:
	for c in $(COMMANDS); do \
		rm -f $(BINDIR)/$$c $(MANDIR)/$$c.1 $(BASHDIR)/$$c $(ZSHDIR)/_$$c $(FISHDIR)/$$c.fish; \
	done
