# rp — GPU burst toolkit.  GNU make.
PREFIX  ?= /usr/local
DESTDIR ?=
# The one definition of the version: the C code gets it as RP_VERSION,
# rp-autoscale asks rp-lagwatch, the man pages and the .deb get it at install.
VERSION := 0.1.0

# pkg-config module:Debian package that provides its .pc file.
PKGMAP  := libcurl:libcurl4-openssl-dev libcjson:libcjson-dev libssh2:libssh2-1-dev \
           yaml-0.1:libyaml-dev rdkafka:librdkafka-dev libzstd:libzstd-dev \
           libcrypto:libssl-dev expat:libexpat1-dev
PKGS    := $(foreach m,$(PKGMAP),$(firstword $(subst :, ,$(m))))
CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-error=deprecated-declarations
# The pkg-config flags are read lazily, once, when a compile or a link first
# needs them -- never when the Makefile is parsed: the public targets run
# `deps` and then re-invoke make, so the flags see what deps installed.  A
# module still missing stops the build with one line naming it.
pkgmiss  = $(error pkg-config: module '$(1)' not found (Debian package $(2)); run scripts/install-deps)
pkgcheck = $(if $(shell command -v pkg-config),,$(error pkg-config not found (Debian package pkg-config); run scripts/install-deps))$(foreach m,$(PKGMAP),$(if $(shell pkg-config --exists $(firstword $(subst :, ,$(m))) && echo y),,$(call pkgmiss,$(firstword $(subst :, ,$(m))),$(lastword $(subst :, ,$(m))))))
PKGCF    = $(pkgcheck)$(eval PKGCF := $(shell pkg-config --cflags $(PKGS)))$(PKGCF)
PKGLIB   = $(pkgcheck)$(eval PKGLIB := $(shell pkg-config --libs $(PKGS)) -lpthread -lm)$(PKGLIB)
# -MMD -MP: each object depends on the headers it includes (build/**/*.d).
ALLCF   = $(WARN) $(PKGCF) -DRP_VERSION='"$(VERSION)"' -Icommon $(CFLAGS) $(SAN) -MMD -MP
LDFLAGS ?= -Wl,--as-needed

BUILD   ?= build
BIN     ?= bin
TOOLS   := rp-launch rp-join rp-drain rp-checkpoint rp-lagwatch rp-cost
LIBSRC  := $(sort $(wildcard common/*.c))
LIBOBJ  := $(LIBSRC:common/%.c=$(BUILD)/common/%.o)
LIB     := $(BUILD)/librp.a
UNITSRC := $(sort $(wildcard tests/unit/test-*.c))
UNITS   := $(UNITSRC:tests/unit/%.c=$(BUILD)/tests/%)
HELPSRC := $(sort $(wildcard tests/helpers/*.c))
HELPERS := $(HELPSRC:tests/helpers/%.c=$(BUILD)/tests/%)

.SECONDARY:
.PHONY: all test check clean install demo bench fuzz deps lint units
all: $(TOOLS:%=$(BIN)/%)

$(BUILD)/common/%.o: common/%.c
	@mkdir -p $(@D)
	@echo '  CC      $<'
	@$(CC) $(ALLCF) -c -o $@ $<

$(LIB): $(LIBOBJ)
	@rm -f $@
	@echo '  AR      $@'
	@ar rcs $@ $^

$(BUILD)/cmd/%.o: cmd/%.c
	@mkdir -p $(@D)
	@echo '  CC      $<'
	@$(CC) $(ALLCF) -c -o $@ $<

$(BIN)/%: $(BUILD)/cmd/%.o $(LIB)
	@mkdir -p $(@D)
	@echo '  LD      $@'
	@$(CC) $(CFLAGS) $(SAN) $(LDFLAGS) -o $@ $< $(LIB) $(PKGLIB)

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(@D)
	@echo '  CC      $<'
	@$(CC) $(ALLCF) -MF $@.d -Itests/unit -o $@ $< $(LIB) $(PKGLIB)

$(BUILD)/tests/%: tests/helpers/%.c $(LIB)
	@mkdir -p $(@D)
	@echo '  CC      $<'
	@$(CC) $(ALLCF) -MF $@.d -o $@ $< $(LIB) $(PKGLIB)

-include $(wildcard $(BUILD)/common/*.d $(BUILD)/cmd/*.d $(BUILD)/tests/*.d)

units: all $(UNITS) $(HELPERS)

deps:
	@scripts/install-deps --check >/dev/null 2>&1 || scripts/install-deps

# The whole suite: unit tests, binary tests, end-to-end tests on the stack.
test: deps
	@$(MAKE) --no-print-directory units
	@RP_BIN=$(CURDIR)/$(BIN) RP_BUILD=$(CURDIR)/$(BUILD) tests/run $(T)

# Sanitizer build of everything, the same suite, then the linters.
check: deps
	@$(MAKE) --no-print-directory BUILD=build-san BIN=build-san/bin \
	    SAN='-fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=undefined,float-cast-overflow' \
	    CFLAGS='-O1 -g' units
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    RP_BIN=$(CURDIR)/build-san/bin RP_BUILD=$(CURDIR)/build-san tests/run $(T)
	@$(MAKE) --no-print-directory lint

lint:
	shellcheck -x $$(scripts/shell-files)
	cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability \
	    --suppress=missingIncludeSystem --inline-suppr -Icommon common cmd

# The public targets that need the dependencies run deps first, then a
# fresh make: its flags are read after deps installed what was missing.
demo: deps
	@$(MAKE) --no-print-directory units
	@scripts/demo

bench: deps
	@$(MAKE) --no-print-directory units
	@tests/bench/run

fuzz:
	@tests/fuzz/run

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man7 \
	    $(DESTDIR)$(PREFIX)/share/man/man8 \
	    $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	    $(DESTDIR)$(PREFIX)/share/zsh/site-functions \
	    $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 0755 $(TOOLS:%=$(BIN)/%) $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 scripts/rp-autoscale $(DESTDIR)$(PREFIX)/bin/ 2>/dev/null || true
	for s in 1 5 7 8; do for f in man/*.$$s; do [ -e "$$f" ] && install -m 0644 $$f $(DESTDIR)$(PREFIX)/share/man/man$$s/; done; done; true
	install -m 0644 completions/rp.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/rp
	for t in $(TOOLS); do ln -sf rp $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$t; done
	install -m 0644 completions/_rp $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_rp
	for f in scripts/systemd/*; do [ -e "$$f" ] && install -m 0644 $$f $(DESTDIR)$(PREFIX)/lib/systemd/system/; done; true

clean:
	rm -rf build build-san build-fuzz build-ci bin

# Every binary's main paths (the suite's tests) under valgrind memcheck.
.PHONY: memcheck
memcheck: deps
	@$(MAKE) --no-print-directory all
	@tests/valgrind/run $(T)
