# examples/dsm/dist.mk: `make dist`, the Synology DSM 7.2 bundle (libyaml and libpci static); -included by the top-level Makefile.
#
# The bundle's binary is built in $(DIST_DIR)/obj/ (never ./passthrough) against libyaml.a and a
# libpci.a built here from Debian's pciutils source (Debian 12 ships no libpci.a): the source is
# downloaded once from deb.debian.org into $(DIST_DIR)/ and checked against the sha256 in
# Debian's pciutils_3.9.0-4.dsc before every use (PCIUTILS_TARBALL=FILE uses a local copy).
# examples/dsm/check-binary.sh then fails the build unless the binary's NEEDED entries are
# exactly DIST_NEEDED and the highest GLIBC_ version it requires is at most DIST_GLIBC_MAX.

DIST_DIR        ?= $(BUILD)/dist
DIST_NAME        = passthrough-$(VERSION)-dsm7.2-x86_64
DIST_TARBALL     = $(DIST_NAME).tar.gz
DIST_BIN         = $(DIST_DIR)/obj/passthrough
# DSM 7.2 (x86_64): glibc 2.36. libvirt.so.0 is not here because it is loaded with dlopen.
DIST_GLIBC_MAX   = 2.36
DIST_NEEDED      = libc.so.6 libxml2.so.2

PCIUTILS_VERSION = 3.9.0
PCIUTILS_SHA256  = 8953a785b2e3af414434b8fdcbfb75c90758819631001e60dd3afb89b22b2331
PCIUTILS_URL     = http://deb.debian.org/debian/pool/main/p/pciutils/pciutils_$(PCIUTILS_VERSION).orig.tar.gz
PCIUTILS_TARBALL ?= $(DIST_DIR)/pciutils_$(PCIUTILS_VERSION).orig.tar.gz
PCIUTILS_SRC     = $(DIST_DIR)/pciutils-$(PCIUTILS_VERSION)
LIBPCI_A         = $(PCIUTILS_SRC)/lib/libpci.a
LIBYAML_A        = $(shell $(CC) -print-file-name=libyaml.a)

.PHONY: dist dist-bin dist-check

$(DIST_DIR)/pciutils_$(PCIUTILS_VERSION).orig.tar.gz:
	@mkdir -p $(@D)
	curl -fsS -o $@.part $(PCIUTILS_URL)
	echo "$(PCIUTILS_SHA256)  $@.part" | sha256sum -c --quiet
	mv $@.part $@

# libpci without zlib, DNS, hwdb and kmod (none of them is on DSM; names come from pci.ids,
# looked up at run time in /usr/share/misc). MAKEFLAGS is cleared so that variables given to
# this make (CFLAGS=...) do not leak into pciutils' own Makefile.
$(LIBPCI_A): $(PCIUTILS_TARBALL)
	echo "$(PCIUTILS_SHA256)  $<" | sha256sum -c --quiet
	rm -rf $(PCIUTILS_SRC) $(DIST_DIR)/include
	tar -xzf $< -C $(DIST_DIR)
	env -u MAKEFLAGS -u MAKELEVEL $(MAKE) -s -C $(PCIUTILS_SRC) lib/libpci.a ZLIB=no DNS=no HWDB=no \
		LIBKMOD=no SHARED=no IDSDIR=/usr/share/misc \
		OPT="-O2 -fPIE -fstack-protector-strong -D_FORTIFY_SOURCE=2" >$(DIST_DIR)/pciutils-build.log
	mkdir -p $(DIST_DIR)/include/pci
	cp $(PCIUTILS_SRC)/lib/pci.h $(PCIUTILS_SRC)/lib/config.h $(PCIUTILS_SRC)/lib/header.h \
		$(PCIUTILS_SRC)/lib/types.h $(DIST_DIR)/include/pci/

# The same sources and flags as ./passthrough, in their own build folder, with libpci's headers
# from that source first on the include path, and the DSM layout's defaults: the binary reads
# /usr/local/etc/passthrough.yaml and keeps its state in /usr/local/lib/passthrough with no -c
# (DSM rebuilds /etc at boot); `install --systemd` still writes /etc/passthrough.yaml.
DIST_CONFIG_FILE = /usr/local/etc/passthrough.yaml
DIST_STATE_DIR   = /usr/local/lib/passthrough
dist-bin: $(LIBPCI_A)
	@test -f "$(LIBYAML_A)" || { echo "make dist needs libyaml.a (libyaml-dev)"; exit 1; }
	$(MAKE) BUILD=$(DIST_DIR)/obj PROG=$(DIST_BIN) \
		CONFIG_FILE=$(DIST_CONFIG_FILE) STATE_DIR=$(DIST_STATE_DIR) SYSTEMD_CONFIG_FILE=/etc/passthrough.yaml \
		PT_INCLUDES=-I$(abspath $(DIST_DIR)/include) \
		PT_LDLIBS="$(LIBYAML_A) $(abspath $(LIBPCI_A)) $$($(PKG_CONFIG) --libs libxml-2.0)" $(DIST_BIN)

# The tarball: bin/, the man pages, the example file, the installer, the licences of what is
# linked in, and BUILDINFO (what check-binary.sh found).
dist: dist-bin
	rm -rf $(DIST_DIR)/$(DIST_NAME) $(DIST_TARBALL)
	mkdir -p $(DIST_DIR)/$(DIST_NAME)/bin $(DIST_DIR)/$(DIST_NAME)/man/man8 $(DIST_DIR)/$(DIST_NAME)/man/man5 \
		$(DIST_DIR)/$(DIST_NAME)/examples $(DIST_DIR)/$(DIST_NAME)/licenses
	examples/dsm/check-binary.sh $(DIST_BIN) $(DIST_GLIBC_MAX) $(DIST_NEEDED) >$(DIST_DIR)/$(DIST_NAME)/BUILDINFO
	strip --strip-debug -o $(DIST_DIR)/$(DIST_NAME)/bin/passthrough $(DIST_BIN)
	install -m 0755 examples/dsm/install.sh $(DIST_DIR)/$(DIST_NAME)/install.sh
	install -m 0644 examples/dsm/README $(DIST_DIR)/$(DIST_NAME)/README
	install -m 0644 cmd/passthrough.8 $(DIST_DIR)/$(DIST_NAME)/man/man8/
	install -m 0644 model/passthrough.yaml.5 $(DIST_DIR)/$(DIST_NAME)/man/man5/
	install -m 0644 examples/passthrough.yaml $(DIST_DIR)/$(DIST_NAME)/examples/
	install -m 0644 $(PCIUTILS_SRC)/COPYING $(DIST_DIR)/$(DIST_NAME)/licenses/pciutils-COPYING
	install -m 0644 /usr/share/doc/libyaml-dev/copyright $(DIST_DIR)/$(DIST_NAME)/licenses/libyaml-copyright
	tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C $(DIST_DIR) -czf $(DIST_TARBALL) $(DIST_NAME)
	@echo "dist: $(DIST_TARBALL), $$(stat -c %s $(DIST_TARBALL)) bytes;" \
		"$$(sed -n 's/^needed: //p' $(DIST_DIR)/$(DIST_NAME)/BUILDINFO | tr '\n' ' ')(NEEDED);" \
		"highest $$(sed -n 's/^glibc: //p' $(DIST_DIR)/$(DIST_NAME)/BUILDINFO)"

# The bundle in a minimal Debian 12 root (tests/dist/minroot.sh; also part of make check).
dist-check:
	SUITES=dist MAKE="$(MAKE)" tests/run.sh
