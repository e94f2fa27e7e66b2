# rp — GPU burst toolkit.  GNU make.
PREFIX  ?= /usr/local
DESTDIR ?=
# The one definition of the version: the C code gets it as RP_VERSION,
# rp-autoscale asks rp-lagwatch, the man pages and the .deb get it at install.
VERSION := 0.1.0

# pkg-config module:Debian package that provides its .pc file.
PKGMAP  := libcjson:libcjson-dev libssh2:libssh2-1-dev \
           yaml-0.1:libyaml-dev rdkafka:librdkafka-dev libzstd:libzstd-dev \
           libcrypto:libssl-dev libssl:libssl-dev expat:libexpat1-dev grpc:libgrpc-dev
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
# gRPC (extscaler.c) and librdkafka (rdk.c) are loaded on first use, not
# linked: the binaries link without -lrdkafka (the test helpers keep it:
# the Kafka mock calls it directly); --as-needed keeps of the rest only
# what each binary's objects (from the archive) call.
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
	@$(CC) $(CFLAGS) $(SAN) $(LDFLAGS) -o $@ $< $(LIB) $(filter-out -lrdkafka,$(PKGLIB))

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(@D)
	@echo '  CC      $<'
	@$(CC) $(ALLCF) -MF $@.d -Itests/unit -o $@ $< $(LIB) $(PKGLIB)

$(BUILD)/tests/%: tests/helpers/%.c $(LIB)
	@mkdir -p $(@D)
	@echo '  CC      $<'
	@$(CC) $(ALLCF) -MF $@.d -o $@ $< $(LIB) $(PKGLIB)

# The example configuration, generated from the schema (common/config.c).
$(BUILD)/config-example: packaging/config-example.c $(LIB)
	@mkdir -p $(@D)
	@echo '  CC      $<'
	@$(CC) $(ALLCF) -MF $@.d -o $@ $< $(LIB) $(PKGLIB)

$(BUILD)/config.yaml: $(BUILD)/config-example
	@echo '  GEN     $@'
	@$(BUILD)/config-example >$@.tmp && mv $@.tmp $@

-include $(wildcard $(BUILD)/config-example.d  $(BUILD)/common/*.d $(BUILD)/cmd/*.d $(BUILD)/tests/*.d)

units: all $(UNITS) $(HELPERS) $(BUILD)/config.yaml

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
	    --suppress=missingIncludeSystem --inline-suppr -Icommon common cmd packaging

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

# Install as a package would: every step stops make when it fails.  The
# units and the cron file in scripts/ are written for the default prefix
# (/usr/local); they get the real one here.
PKGDIR   = $(DESTDIR)$(PREFIX)
SHAREDIR = $(PKGDIR)/share/rp
DOCDIR   = $(PKGDIR)/share/doc/rp
UNITDIR  = $(PKGDIR)/lib/systemd/system
CRONPATH = $(if $(filter /usr,$(PREFIX)),/usr/bin:/bin,$(PREFIX)/bin:/usr/bin:/bin)
SCRIPTS  := scripts/rp-autoscale scripts/rp-cost-plot
install: all $(BUILD)/config.yaml
	install -d $(PKGDIR)/bin $(PKGDIR)/share/man/man1 $(PKGDIR)/share/man/man5 \
	    $(PKGDIR)/share/man/man7 $(PKGDIR)/share/man/man8 \
	    $(PKGDIR)/share/bash-completion/completions $(PKGDIR)/share/zsh/site-functions \
	    $(UNITDIR) $(SHAREDIR)/cron.d $(SHAREDIR)/prometheus $(DOCDIR)/examples
	install -m 0755 $(TOOLS:%=$(BIN)/%) $(SCRIPTS) $(PKGDIR)/bin/
	set -e; for f in $(sort $(wildcard man/*.[1578])); do \
	    s=$${f##*.}; \
	    sed '1s/"rp [0-9][0-9.]*"/"rp $(VERSION)"/' $$f >$(PKGDIR)/share/man/man$$s/$${f##*/}; \
	    chmod 0644 $(PKGDIR)/share/man/man$$s/$${f##*/}; \
	done
	install -m 0644 completions/rp.bash $(PKGDIR)/share/bash-completion/completions/rp
	set -e; for t in $(TOOLS) rp-autoscale; do ln -sf rp $(PKGDIR)/share/bash-completion/completions/$$t; done
	install -m 0644 completions/_rp $(PKGDIR)/share/zsh/site-functions/_rp
	set -e; for f in $(sort $(wildcard scripts/systemd/*)); do \
	    sed 's|/usr/local/bin/|$(PREFIX)/bin/|g' $$f >$(UNITDIR)/$${f##*/}; \
	    chmod 0644 $(UNITDIR)/$${f##*/}; \
	done
	sed -e 's|^PATH=/usr/local/bin:/usr/bin:/bin$$|PATH=$(CRONPATH)|' \
	    scripts/cron/rp-autoscale >$(SHAREDIR)/cron.d/rp-autoscale
	chmod 0644 $(SHAREDIR)/cron.d/rp-autoscale
	install -m 0644 scripts/prometheus/rp-alerts.yml scripts/prometheus/rp-alerts.test.yml \
	    $(SHAREDIR)/prometheus/
	install -m 0644 $(BUILD)/config.yaml $(DOCDIR)/examples/config.yaml
	install -m 0644 README.md $(DOCDIR)/README.md

# A Debian package (dpkg-deb, no network): the install above with
# PREFIX=/usr, Depends from the shared libraries the binaries link
# (dpkg-shlibdeps) plus what the scripts run and librdkafka (loaded, not
# linked: packaging/deb/control names it); packaging/deb/ holds the rest.
DEBARCH  = $(shell dpkg --print-architecture)
DEBROOT  = $(BUILD)/deb/root
DEB      = $(BUILD)/rp_$(VERSION)_$(DEBARCH).deb
.PHONY: deb
deb: all $(BUILD)/config.yaml
	rm -rf $(BUILD)/deb
	$(MAKE) --no-print-directory install PREFIX=/usr DESTDIR=$(abspath $(DEBROOT))
	install -d $(DEBROOT)/DEBIAN $(BUILD)/deb/debian
	install -m 0755 packaging/deb/postinst $(DEBROOT)/DEBIAN/postinst
	printf 'Source: rp\n\nPackage: rp\nArchitecture: any\n' >$(BUILD)/deb/debian/control
	cd $(BUILD)/deb && dpkg-shlibdeps -O $(TOOLS:%=root/usr/bin/%) >shlibs
	sed -e 's/@VERSION@/$(VERSION)/' -e 's/@ARCH@/$(DEBARCH)/' \
	    -e "s/@SHLIBS@/$$(sed -n 's/^shlibs:Depends=//p' $(BUILD)/deb/shlibs)/" \
	    -e "s/@SIZE@/$$(du -sk --exclude=DEBIAN $(DEBROOT) | cut -f1)/" \
	    packaging/deb/control >$(DEBROOT)/DEBIAN/control
	cd $(DEBROOT) && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | \
	    xargs -0 md5sum >DEBIAN/md5sums
	dpkg-deb --root-owner-group -Zxz --build $(DEBROOT) $(DEB)
	@echo '  DEB     $(DEB)'

clean:
	rm -rf build build-san build-fuzz build-ci bin

# Every binary's main paths (the suite's tests) under valgrind memcheck.
.PHONY: memcheck
memcheck: deps
	@$(MAKE) --no-print-directory all
	@tests/valgrind/run $(T)
