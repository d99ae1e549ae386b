# Makefile: builds ./passthrough and its tests with pkg-config; `make help` lists the targets.

VERSION     = 0.1.0
PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/passthrough
# The binary's default config and state directory (make dist: the DSM layout's, in
# examples/dsm/dist.mk); SYSTEMD_CONFIG_FILE is the config of `passthrough install --systemd`.
CONFIG_FILE ?= /etc/passthrough.yaml
STATE_DIR   ?= /var/lib/passthrough
SYSTEMD_CONFIG_FILE ?= $(CONFIG_FILE)

PKGS        = libvirt yaml-0.1 libpci libxml-2.0
PKG_CONFIG ?= pkg-config

# build/ holds objects and test binaries; `make asan` uses build/asan/.
BUILD      ?= build
SAN        ?=

CC         ?= cc
CFLAGS     ?= -O2 -g
WARNINGS    = -Wall -Wextra -Werror -Wmissing-prototypes -Wstrict-prototypes -Wshadow \
              -Wformat=2 -Wno-format-nonliteral -Wvla
ifeq ($(SAN),)
HARDEN_CPPFLAGS = -D_FORTIFY_SOURCE=2
HARDEN_CFLAGS   = -fstack-protector-strong -fPIE
HARDEN_LDFLAGS  = -pie -Wl,-z,relro,-z,now
PROG        = passthrough
else
HARDEN_CFLAGS   = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
HARDEN_LDFLAGS  = -fsanitize=address,undefined
PROG        = $(BUILD)/passthrough
endif

# PT_INCLUDES: include folders searched before pkg-config's (make dist: libpci's own headers).
PT_INCLUDES ?=
PT_CPPFLAGS = -I. $(PT_INCLUDES) -D_GNU_SOURCE $(HARDEN_CPPFLAGS) \
              -DPT_VERSION=\"$(VERSION)\" -DPT_CONFIG_FILE=\"$(CONFIG_FILE)\" -DPT_SBINDIR=\"$(SBINDIR)\" \
              -DPT_STATE_DIR=\"$(STATE_DIR)\" -DPT_SYSTEMD_CONFIG_FILE=\"$(SYSTEMD_CONFIG_FILE)\" \
              $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PT_CFLAGS   = -std=c11 $(WARNINGS) $(HARDEN_CFLAGS) -MMD -MP $(CFLAGS)
PT_LDFLAGS  = $(HARDEN_LDFLAGS) -Wl,--as-needed $(LDFLAGS)
# libvirt is not linked: reconcile/virt.c loads it with dlopen when a command needs it.
PT_LDLIBS   = $(shell $(PKG_CONFIG) --libs $(filter-out libvirt,$(PKGS)) 2>/dev/null) -ldl $(LDLIBS)
TEST_LDLIBS = $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null)
FUSE_CFLAGS = $(shell $(PKG_CONFIG) --cflags fuse3 2>/dev/null)
FUSE_LDLIBS = $(shell $(PKG_CONFIG) --libs fuse3 2>/dev/null)

LIB_SRC   = $(sort $(wildcard model/*.c reconcile/*.c))
CMD_SRC   = $(sort $(wildcard cmd/*.c))
TEST_SRC  = $(sort $(wildcard tests/unit/t_*.c))
LIB_OBJ   = $(LIB_SRC:%.c=$(BUILD)/%.o)
CMD_OBJ   = $(CMD_SRC:%.c=$(BUILD)/%.o)
TESTS     = $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
LIB       = $(BUILD)/libpassthrough.a
# The FUSE fake is built only where libfuse3-dev is; tests/fake/run.sh says why it skips otherwise.
FAKESYS   = $(BUILD)/fakesys
# The fake tier's uevent sender and listener (tests/fake/uevent.c, for tests/fake/watch.sh).
UEVENT    = $(BUILD)/uevent
FAKESYS_IF_FUSE = $(if $(shell $(PKG_CONFIG) --exists fuse3 2>/dev/null && echo yes),$(FAKESYS) $(UEVENT))

# The Debian 12 packages the build, the tests and the test bed need.
DEPS_BUILD = gcc make libc6-dev pkg-config libvirt-dev libyaml-dev libpci-dev libxml2-dev
DEPS_DIST  = curl binutils dpkg-dev
DEPS_TEST  = libcmocka-dev valgrind strace libfuse3-dev fuse3 debootstrap ansible-core lintian
DEPS_BED   = qemu-system-x86 qemu-utils busybox-static linux-image-amd64 pciutils kmod cpio \
             iproute2 libvirt-daemon libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients
DEPS_LINT  = cppcheck clang-tidy
DEPS       = $(DEPS_BUILD) $(DEPS_DIST) $(DEPS_TEST) $(DEPS_LINT) $(DEPS_BED)

.PHONY: all check unit cli fake asan asan-build valgrind lint bench fuzz install clean deps print-deps help FORCE
.DEFAULT_GOAL := all

all: $(PROG)

# The defaults compiled in, one stamp per build folder: changing one (make dist sets the DSM
# layout's) rebuilds the objects that were built with another.
DEFAULTS       = $(VERSION) $(CONFIG_FILE) $(STATE_DIR) $(SYSTEMD_CONFIG_FILE) $(SBINDIR)
DEFAULTS_STAMP = $(BUILD)/defaults
$(DEFAULTS_STAMP): FORCE
	@mkdir -p $(@D)
	@echo '$(DEFAULTS)' | cmp -s - $@ || echo '$(DEFAULTS)' >$@
FORCE:

$(BUILD)/%.o: %.c $(DEFAULTS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(PT_CPPFLAGS) $(PT_CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(PROG): $(CMD_OBJ) $(LIB)
	$(CC) $(PT_LDFLAGS) -o $@ $(CMD_OBJ) $(LIB) $(PT_LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(PT_CPPFLAGS) $(PT_CFLAGS) $(PT_LDFLAGS) -o $@ $< $(LIB) $(PT_LDLIBS) $(TEST_LDLIBS)

# The FUSE fake sysfs of the fault-injection tests (tests/fake/).
$(FAKESYS): tests/fake/fakesys.c
	@mkdir -p $(@D)
	$(CC) $(FUSE_CFLAGS) -D_GNU_SOURCE $(HARDEN_CPPFLAGS) $(PT_CFLAGS) $(PT_LDFLAGS) -o $@ $< $(FUSE_LDLIBS)

$(UEVENT): tests/fake/uevent.c
	@mkdir -p $(@D)
	$(CC) -D_GNU_SOURCE $(HARDEN_CPPFLAGS) $(PT_CFLAGS) $(PT_LDFLAGS) -o $@ $<

# `make check` runs every tier that can run here and ends with one "N passed, N failed" line:
# unit and CLI tests (under valgrind when it is installed), the fault tests on the FUSE fake
# sysfs, the same again built with ASan and UBSan, and the real-kernel scenarios when the
# QEMU test bed can run here (else each is counted as skipped) and the bed runner's own test on
# a fake QEMU; also the DSM bundle (make dist) and the Debian package (make deb) in a minimal
# Debian 12 root, and the Ansible example.
CHECK_SUITES ?= unit cli fake asan dist ansible bed-runner bed
check: $(PROG) $(TESTS) $(FAKESYS_IF_FUSE)
	BIN=./$(PROG) TESTS="$(TESTS)" SUITES="$(CHECK_SUITES)" VALGRIND=$(VALGRIND) E2E=$(E2E) \
		FAKESYS=$(FAKESYS) MAKE="$(MAKE)" tests/run.sh

unit: $(TESTS)
	BIN=./$(PROG) TESTS="$(TESTS)" SUITES=unit tests/run.sh

cli: $(PROG)
	BIN=./$(PROG) SUITES=cli tests/run.sh

fake: $(PROG) $(FAKESYS_IF_FUSE)
	BIN=./$(PROG) FAKESYS=$(FAKESYS) SUITES=fake tests/run.sh

# The sanitizer build lives in build/asan/; `asan` builds it and runs unit and CLI tests with it.
asan-build:
	$(MAKE) BUILD=$(BUILD)/asan SAN=1 CFLAGS="-O1 -g" $(BUILD)/asan/passthrough \
		$(TESTS:$(BUILD)/%=$(BUILD)/asan/%)

asan: $(FAKESYS_IF_FUSE)
	SUITES=asan TESTS="$(TESTS)" FAKESYS=$(FAKESYS) MAKE="$(MAKE)" tests/run.sh

# Unit tests and every CLI golden case under valgrind --error-exitcode.
valgrind: $(PROG) $(TESTS)
	BIN=./$(PROG) TESTS="$(TESTS)" SUITES="unit cli" VALGRIND=yes tests/run.sh

# Static analysis: cppcheck, and clang-tidy with the checked-in .clang-tidy (tests/.clang-tidy
# for the tests); both fail on any finding. cppcheck's variableScope is off: declarations sit at
# the top of their block here, as in git and kmod.
LINT_SRC   = $(LIB_SRC) $(CMD_SRC) $(TEST_SRC) tests/fake/fakesys.c tests/fake/uevent.c $(wildcard tests/fuzz/*.c)
TIDY_FLAGS = -I. -D_GNU_SOURCE -DPT_VERSION=\"$(VERSION)\" -DPT_CONFIG_FILE=\"$(CONFIG_FILE)\" \
             -DPT_SBINDIR=\"$(SBINDIR)\" -DPT_STATE_DIR=\"$(STATE_DIR)\" \
             -DPT_SYSTEMD_CONFIG_FILE=\"$(SYSTEMD_CONFIG_FILE)\" -std=c11 \
             $(shell $(PKG_CONFIG) --cflags $(PKGS) cmocka fuse3 2>/dev/null)
lint:
	cppcheck -q --std=c11 --enable=warning,style,performance,portability --suppress=variableScope \
		--inline-suppr --error-exitcode=1 -I. -D_GNU_SOURCE model reconcile cmd tests/unit tests/fake tests/fuzz
	@fail=0; for f in $(LINT_SRC); do \
		clang-tidy -quiet $$f -- $(TIDY_FLAGS) 2>&1 | grep -v ' warnings\? generated\.$$' || continue; fail=1; \
	done; \
	if [ $$fail = 0 ]; then echo "lint: cppcheck and clang-tidy clean on $(words $(LINT_SRC)) files"; fi; \
	exit $$fail

# The benchmark (not a test: it measures, it does not judge); see tests/bench/run.sh.
# BENCH_REPS runs per figure; BENCH_DEVICES and BENCH_DOMAINS the scale grid.
BENCH_REPS ?= 30
bench: $(PROG) $(BUILD)/bench/runstat $(BUILD)/bench/reads
	BIN=./$(PROG) RUNSTAT=$(BUILD)/bench/runstat READS=$(BUILD)/bench/reads tests/bench/run.sh $(BENCH_REPS)

$(BUILD)/bench/runstat: tests/bench/runstat.c
	@mkdir -p $(@D)
	$(CC) -D_GNU_SOURCE $(PT_CFLAGS) -o $@ $<

# reads links libvirt the usual way, as the floor a tool that needs libvirt cannot go below.
$(BUILD)/bench/reads: tests/bench/reads.c
	@mkdir -p $(@D)
	$(CC) -D_GNU_SOURCE $(PT_CFLAGS) $(shell $(PKG_CONFIG) --cflags libvirt) -o $@ $< \
		$(shell $(PKG_CONFIG) --libs libvirt)

# For .ci/run: the package list, so that it lives in one place.
print-deps:
	@echo $(DEPS)

install: $(PROG)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(DOCDIR)/examples
	install -m 0755 $(PROG) $(DESTDIR)$(SBINDIR)/passthrough
	install -m 0644 cmd/passthrough.8 $(DESTDIR)$(MANDIR)/man8/passthrough.8
	install -m 0644 model/passthrough.yaml.5 $(DESTDIR)$(MANDIR)/man5/passthrough.yaml.5
	install -m 0644 examples/*.yaml $(DESTDIR)$(DOCDIR)/examples/

clean:
	rm -rf $(BUILD) passthrough passthrough-*-dsm7.2-x86_64.tar.gz passthrough_*.deb

# Installs the Debian 12 packages above with apt-get, only those that are missing.
deps:
	@missing=$$(for p in $(DEPS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q '^install ok installed$$' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "deps: all $(words $(DEPS)) packages present"; exit 0; fi; \
	echo "deps: installing:" $$missing; \
	if [ "$$(id -u)" != 0 ]; then echo "deps: run as root (or: sudo make deps)" >&2; exit 1; fi; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -q && apt-get install -y -q --no-install-recommends $$missing

help:
	@echo "make            build ./passthrough"
	@echo "make deps       install the Debian 12 packages that are missing (as root)"
	@echo "make demo       boot the test bed and show the main job on examples/test-bed.yaml"
	@echo "make check      unit, CLI golden and (when the bed can run here) real-kernel tests"
	@echo "make e2e        only the real-kernel scenarios in the QEMU test bed"
	@echo "make fake       fault-injection tests of apply on the FUSE fake sysfs (root, /dev/fuse)"
	@echo "make asan       unit, CLI and fake tests under ASan and UBSan (also part of check)"
	@echo "make valgrind   unit and CLI tests under valgrind"
	@echo "make lint       cppcheck and clang-tidy (.clang-tidy), failing on any finding (also part of check)"
	@echo "make bench      no-op apply and plan vs the shell way, and plan at 16-1024 devices x 2-128 domains"
	@echo "make fuzz       libFuzzer on the YAML model and the domain XML reader (FUZZ_SECONDS=N each; clang)"
	@echo "make fixtures   re-record tests/fixtures/{sysfs,proc} in the test bed"
	@echo "make bed-clean  remove build/bed (test-bed cache and run folders)"
	@echo "make dist       passthrough-VERSION-dsm7.2-x86_64.tar.gz: the Synology DSM 7.2 bundle, checked"
	@echo "make deb        passthrough_VERSION-1_amd64.deb: the Debian package (dpkg-deb; units not enabled)"
	@echo "make dist-check the bundle and the package in a minimal Debian 12 root (root, debootstrap)"
	@echo "make install    install to \$$(DESTDIR)\$$(PREFIX) (default /usr/local)"
	@echo "make clean      remove build outputs"

# libFuzzer (clang) on the YAML model and the domain XML reader, FUZZ_SECONDS each; new inputs
# that reach new code are merged into tests/fuzz/corpus/, which the unit tests replay.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS  = config domxml
FUZZ_FLAGS    = -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
fuzz: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
	tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/targets.c $(LIB_SRC)
	@mkdir -p $(@D)
	@command -v $(FUZZ_CC) >/dev/null || { echo "make fuzz needs $(FUZZ_CC) and libclang-rt-14-dev (apt-get install clang libclang-rt-14-dev)"; exit 1; }
	$(FUZZ_CC) -I. -D_GNU_SOURCE -DPT_VERSION=\"$(VERSION)\" $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null) \
		$(FUZZ_FLAGS) -o $@ $^ $(PT_LDLIBS)

-include tests/bed/bed.mk
-include examples/dsm/dist.mk
-include examples/deb/deb.mk
-include $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(TESTS:=.d)
