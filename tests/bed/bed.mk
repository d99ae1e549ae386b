# tests/bed/bed.mk: make targets for the real-kernel QEMU test bed; -included by the top-level Makefile.
#
#   make e2e        every scenario except the on-purpose-broken and look-around ones
#   make bed-check  e2e when the bed can run here (root, QEMU, /boot/vmlinuz-*, busybox-static,
#                   libvirt), else one line saying what is missing and that it skips
#   make fixtures   re-record tests/fixtures/{sysfs,proc}/{default,e1000e-vfio}, regenerate ds1621-coral, vmd
#   make demo       boot the bed and show the main job on examples/test-bed.yaml
#   make bed-clean  remove build/bed/ (cached initramfs images, per-scenario work folders)
#
# BED_SCENARIOS=NAME...  run only these (default --all);  BED_FLAGS=-v  stream scenario output;
# BED_PROG  the binary the scenarios use (default passthrough);  BED_BUILD  cache dir.

BED_DIR       ?= tests/bed
BED_BUILD     ?= build/bed
BED_PROG      ?= passthrough
BED_SCENARIOS ?= --all
BED_FLAGS     ?=
BED_ENV        = BED_BUILD="$(abspath $(BED_BUILD))"

.PHONY: e2e bed-check fixtures demo bed-clean

e2e: $(BED_PROG)
	$(BED_ENV) $(BED_DIR)/run.sh $(BED_FLAGS) $(BED_SCENARIOS)

bed-check: $(BED_PROG)
	@if why=$$($(BED_DIR)/run.sh --can-run 2>&1); then \
		$(BED_ENV) $(BED_DIR)/run.sh $(BED_FLAGS) --all; \
	else \
		echo "bed-check: skipped ($$why)"; \
	fi

fixtures:
	$(BED_ENV) $(BED_DIR)/fixtures.sh

demo: $(BED_PROG)
	@$(BED_ENV) $(BED_DIR)/demo.sh

bed-clean:
	rm -rf $(BED_BUILD)
