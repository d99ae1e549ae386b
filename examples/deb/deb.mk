# examples/deb/deb.mk: `make deb`, passthrough_VERSION_ARCH.deb with dpkg-deb, from the systemd build; -included by the top-level Makefile.
#
# The binary is built in $(DEB_DIR)/obj/ with the flags of ./passthrough and Debian's paths
# (SBINDIR /usr/sbin, so the units say /usr/sbin/passthrough; config /etc/passthrough.yaml;
# state /var/lib/passthrough). The package holds it, the man pages, the examples, the
# systemd units in /lib/systemd/system exactly as `passthrough install --systemd` writes
# them (generated here by that command into a scratch root), enabled by nothing (no
# postinst: `passthrough install` or `systemctl enable` does it), and /etc/passthrough.yaml
# (examples/deb/passthrough.yaml, no device) as a conffile. Depends comes from
# dpkg-shlibdeps, or DEB_DEPENDS_FALLBACK where dpkg-dev is missing; libvirt0 is a
# Recommends because the binary loads it with dlopen (dpkg-shlibdeps cannot see it) and
# validate, devices and apply --host-only work without it.

DEB_DIR      ?= $(BUILD)/deb
DEB_REVISION  = 1
DEB_VERSION   = $(VERSION)-$(DEB_REVISION)
DEB_ARCH     := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
DEB_FILE      = passthrough_$(DEB_VERSION)_$(DEB_ARCH).deb
DEB_BIN       = $(DEB_DIR)/obj/passthrough
DEB_ROOT      = $(DEB_DIR)/root
DEB_DOC       = $(DEB_ROOT)/usr/share/doc/passthrough
DEB_DEPENDS_FALLBACK = libc6 (>= 2.34), libpci3 (>= 1:3.5.2), libxml2 (>= 2.7.4), libyaml-0-2
DEB_RECOMMENDS = libvirt0, kmod
DEB_SUGGESTS   = libvirt-daemon-system
DEB_MAINTAINER = passthrough maintainers <maintainers@users.noreply.r-seed-776125c7.example>

.PHONY: deb deb-bin

deb-bin:
	$(MAKE) BUILD=$(DEB_DIR)/obj PROG=$(DEB_BIN) SBINDIR=/usr/sbin CONFIG_FILE=/etc/passthrough.yaml \
		STATE_DIR=/var/lib/passthrough SYSTEMD_CONFIG_FILE=/etc/passthrough.yaml $(DEB_BIN)

# The units: what `passthrough install --systemd` writes, by that command, in a scratch root.
deb: deb-bin
	@command -v dpkg-deb >/dev/null || { echo "make deb needs dpkg-deb (dpkg)"; exit 1; }
	rm -rf $(DEB_ROOT) $(DEB_DIR)/units $(DEB_DIR)/shlibs $(DEB_FILE)
	mkdir -p $(DEB_DIR)/units
	$(DEB_BIN) install --systemd --root $(abspath $(DEB_DIR)/units) --quiet
	install -d $(DEB_ROOT)/DEBIAN $(DEB_ROOT)/usr/sbin $(DEB_ROOT)/usr/share/man/man8 \
		$(DEB_ROOT)/usr/share/man/man5 $(DEB_DOC)/examples $(DEB_ROOT)/lib/systemd/system $(DEB_ROOT)/etc
	strip --strip-unneeded --remove-section=.comment --remove-section=.note -o $(DEB_ROOT)/usr/sbin/passthrough $(DEB_BIN)
	chmod 0755 $(DEB_ROOT)/usr/sbin/passthrough
	gzip -9n -c cmd/passthrough.8 >$(DEB_ROOT)/usr/share/man/man8/passthrough.8.gz
	gzip -9n -c model/passthrough.yaml.5 >$(DEB_ROOT)/usr/share/man/man5/passthrough.yaml.5.gz
	install -m 0644 examples/*.yaml examples/passthrough.cron $(DEB_DOC)/examples/
	install -m 0644 examples/deb/copyright $(DEB_DOC)/copyright
	gzip -9n -c examples/deb/changelog >$(DEB_DOC)/changelog.Debian.gz
	install -m 0644 $(DEB_DIR)/units/etc/systemd/system/passthrough*.service \
		$(DEB_DIR)/units/etc/systemd/system/passthrough*.timer $(DEB_ROOT)/lib/systemd/system/
	install -m 0644 examples/deb/passthrough.yaml $(DEB_ROOT)/etc/passthrough.yaml
	install -m 0755 examples/deb/postrm $(DEB_ROOT)/DEBIAN/postrm
	install -D -m 0644 examples/deb/lintian-overrides $(DEB_ROOT)/usr/share/lintian/overrides/passthrough
	echo /etc/passthrough.yaml >$(DEB_ROOT)/DEBIAN/conffiles
	chmod 0644 $(DEB_ROOT)/usr/share/man/man*/*.gz $(DEB_DOC)/changelog.Debian.gz $(DEB_ROOT)/DEBIAN/conffiles
	cd $(DEB_ROOT) && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\n' | LC_ALL=C sort | \
		xargs md5sum >DEBIAN/md5sums && chmod 0644 DEBIAN/md5sums
	mkdir -p $(DEB_DIR)/shlibs/debian
	printf 'Source: passthrough\n\nPackage: passthrough\nArchitecture: any\n' >$(DEB_DIR)/shlibs/debian/control
	depends=$$(command -v dpkg-shlibdeps >/dev/null && cd $(DEB_DIR)/shlibs && \
		dpkg-shlibdeps -O -e$(abspath $(DEB_ROOT))/usr/sbin/passthrough 2>/dev/null | sed -n 's/^shlibs:Depends=//p'); \
	[ -n "$$depends" ] || { depends='$(DEB_DEPENDS_FALLBACK)'; echo "deb: no dpkg-shlibdeps (dpkg-dev): Depends: $$depends"; }; \
	{ echo "Package: passthrough"; echo "Version: $(DEB_VERSION)"; echo "Architecture: $(DEB_ARCH)"; \
	  echo "Maintainer: $(DEB_MAINTAINER)"; \
	  echo "Installed-Size: $$(du -sk --exclude=DEBIAN $(DEB_ROOT) | cut -f1)"; \
	  echo "Depends: $$depends"; echo "Recommends: $(DEB_RECOMMENDS)"; echo "Suggests: $(DEB_SUGGESTS)"; \
	  echo "Section: admin"; echo "Priority: optional"; \
	  echo "Description: declarative PCI passthrough for libvirt/KVM hosts"; \
	  echo " A YAML file says which virtual machine owns which PCI device (a Coral Edge"; \
	  echo " TPU, a NIC, a GPU); passthrough binds each to vfio-pci, hot-plugs it into"; \
	  echo " its VM through libvirt and gives it back to the host, from libvirt's qemu"; \
	  echo " hook, at boot and on a timer, and says what it would change first (plan)."; \
	  echo " The systemd units are installed but not enabled: 'passthrough install' or"; \
	  echo " 'systemctl enable' does that."; } >$(DEB_ROOT)/DEBIAN/control
	dpkg-deb --root-owner-group -Zxz --build $(DEB_ROOT) $(DEB_FILE) >/dev/null
	@echo "deb: $(DEB_FILE), $$(stat -c %s $(DEB_FILE)) bytes; Depends: $$(dpkg-deb -f $(DEB_FILE) Depends)"
