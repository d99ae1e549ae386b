/* t_apply.c: the executor's checks and verifications on copies of recorded trees (which accept writes but never move a driver), the lock, and libvirt's test driver. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "model/xalloc.h"
#include "tests/unit/fixture.h"
#include "reconcile/apply.h"
#include "reconcile/lock.h"
#include "reconcile/sysfs.h"

static char tmp[64];
static const char *lock_file;   /* the host's lock file (and so its journal); NULL: none */
static unsigned write_timeout_ms = 2000;

struct outcome {
	enum pt_step_outcome o[8];
	char *msg[8];
	size_t n;
};

static void
record(void *data, const struct pt_step *s, enum pt_step_outcome o, const char *msg)
{
	struct outcome *out = data;

	(void)s;
	assert_true(out->n < 8);
	out->o[out->n] = o;
	out->msg[out->n] = msg ? xstrdup(msg) : NULL;
	out->n++;
}

static void
outcome_done(struct outcome *out)
{
	for (size_t i = 0; i < out->n; i++)
		free(out->msg[i]);
	memset(out, 0, sizeof(*out));
}

static struct pt_step
step(enum pt_step_kind kind, const char *device, const char *addr, const char *from, const char *to)
{
	struct pt_step s;
	const char *why;

	memset(&s, 0, sizeof(s));
	s.kind = kind;
	s.device = (char *)device;
	if (addr)
		assert_int_equal(pt_pciaddr_parse(addr, &s.addr, &why), 0);
	s.from = (char *)from;
	s.to = (char *)to;
	return s;
}

/* Runs a shell command, formatted; it must succeed. */
static void __attribute__((format(printf, 1, 2)))
sh(const char *fmt, ...)
{
	va_list ap;
	char *cmd;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

/* Makes tmp/sys a fresh copy of a recorded tree. */
static void
fresh_tree(const char *fixture)
{
	sh("rm -rf %s/sys && cp -a tests/fixtures/sysfs/%s %s/sys", tmp, fixture, tmp);
}

/* Runs the steps on tmp/sys as it is now; out says what each did. */
static void
apply_here(struct pt_step *steps, size_t n, const char *modprobe, const char *uri, struct outcome *out)
{
	char *sys = xasprintf("%s/sys", tmp);
	struct pt_host h = { sys, "/proc", uri, lock_file, NULL };
	struct pt_apply_opts o = { .probe_timeout_ms = 50, .detach_timeout_ms = 200, .modprobe = modprobe,
				   .write_timeout_ms = write_timeout_ms };
	struct pt_plan plan;

	memset(&plan, 0, sizeof(plan));
	plan.steps = steps;
	plan.n_steps = n;
	memset(out, 0, sizeof(*out));
	pt_apply(&h, &plan, &o, record, out);
	free(sys);
}

static void
run(const char *fixture, struct pt_step *steps, size_t n, const char *modprobe, const char *uri,
    struct outcome *out)
{
	fresh_tree(fixture);
	apply_here(steps, n, modprobe, uri, out);
}

static void
test_override_set_then_held(void **state)
{
	struct pt_step s[2];
	struct outcome out;

	(void)state;
	s[0] = step(PT_STEP_SET_OVERRIDE, "tpu", "00:02.0", NULL, "vfio-pci");
	s[1] = s[0];
	run("default", s, 2, "modprobe", NULL, &out);
	assert_int_equal(out.o[0], PT_STEP_DONE);
	assert_int_equal(out.o[1], PT_STEP_HELD);   /* the precondition is checked again */
	outcome_done(&out);
}

static void
test_unbind_is_verified(void **state)
{
	struct pt_step s[3];
	struct outcome out;
	char *want;

	(void)state;
	s[0] = step(PT_STEP_UNBIND, "tpu", "00:02.0", "e1000e", NULL);
	s[1] = step(PT_STEP_PROBE, "tpu", "00:02.0", NULL, "vfio-pci");
	s[2] = step(PT_STEP_UNBIND, "nic", "00:03.0", "e1000e", NULL);
	run("default", s, 3, "modprobe", NULL, &out);
	/* a plain directory takes the write, but the driver link stays: caught */
	assert_int_equal(out.o[0], PT_STEP_FAILED);
	assert_string_equal(out.msg[0], "0000:00:02.0 is still on e1000e after unbind");
	/* the same device's next step is skipped, another device goes on */
	assert_int_equal(out.o[1], PT_STEP_SKIPPED);
	assert_int_equal(out.o[2], PT_STEP_FAILED);
	assert_string_equal(out.msg[2], "0000:00:03.0 is on e1000 now, not e1000e as planned; run again to plan anew");
	outcome_done(&out);
	/* nothing to unbind: held */
	s[0] = step(PT_STEP_UNBIND, "edu", "00:04.0", "e1000e", NULL);
	run("default", s, 1, "modprobe", NULL, &out);
	assert_int_equal(out.o[0], PT_STEP_HELD);
	outcome_done(&out);
	/* a write that fails: here, an unbind file that is missing */
	s[0] = step(PT_STEP_UNBIND, "tpu", "00:02.0", "e1000e", NULL);
	fresh_tree("default");
	sh("rm %s/sys/bus/pci/drivers/e1000e/unbind", tmp);
	apply_here(s, 1, "modprobe", NULL, &out);
	assert_int_equal(out.o[0], PT_STEP_FAILED);
	want = xasprintf("cannot open '%s/sys/bus/pci/drivers/e1000e/unbind': No such file or directory", tmp);
	assert_string_equal(out.msg[0], want);
	free(want);
	outcome_done(&out);
}

static void
test_probe(void **state)
{
	struct pt_step s[1];
	struct outcome out;

	(void)state;
	s[0] = step(PT_STEP_PROBE, "tpu", "00:02.0", NULL, "vfio-pci");
	run("e1000e-vfio", s, 1, "modprobe", NULL, &out);
	assert_int_equal(out.o[0], PT_STEP_HELD);
	outcome_done(&out);
	/* nothing binds within the bound: says what it saw */
	s[0] = step(PT_STEP_PROBE, "edu", "00:04.0", NULL, "vfio-pci");
	run("default", s, 1, "modprobe", NULL, &out);
	assert_int_equal(out.o[0], PT_STEP_FAILED);
	assert_string_equal(out.msg[0], "0000:00:04.0 is on no driver after probing, not vfio-pci (waited 50 ms)");
	outcome_done(&out);
	/* bound to something else meanwhile: refuses */
	s[0] = step(PT_STEP_PROBE, "nic", "00:03.0", NULL, "vfio-pci");
	run("default", s, 1, "modprobe", NULL, &out);
	assert_int_equal(out.o[0], PT_STEP_FAILED);
	assert_string_equal(out.msg[0], "0000:00:03.0 is on e1000, not vfio-pci; run again to plan anew");
	outcome_done(&out);
	/* back to the host: the probe is made; that no driver took it goes into the journal */
	s[0] = step(PT_STEP_PROBE, "edu", "00:04.0", NULL, NULL);
	run("default", s, 1, "modprobe", NULL, &out);
	assert_int_equal(out.o[0], PT_STEP_DONE);
	outcome_done(&out);
}

/* A probe back to the host that binds nothing is written down beside the lock. */
static void
test_probe_journal(void **state)
{
	struct pt_step s[1];
	struct outcome out;
	char *lock = xasprintf("%s/run/passthrough.lock", tmp), *want;

	(void)state;
	sh("rm -rf %s/run && mkdir %s/run", tmp, tmp);
	lock_file = lock;
	s[0] = step(PT_STEP_PROBE, "edu", "00:04.0", NULL, NULL);
	run("default", s, 1, "modprobe", NULL, &out);
	assert_int_equal(out.o[0], PT_STEP_DONE);
	outcome_done(&out);
	sh("grep -q '^unclaimed 0000:00:04.0 1234:11e8 drivers=[0-9a-f]\\{16\\}$' %s/run/passthrough.journal", tmp);
	/* a journal that cannot be written: the step fails, saying both */
	sh("rm -rf %s/run", tmp);
	apply_here(s, 1, "modprobe", NULL, &out);
	assert_int_equal(out.o[0], PT_STEP_FAILED);
	want = xasprintf("no host driver claims it after probing, and cannot write the journal "
			 "'%s/run/passthrough.journal': No such file or directory", tmp);
	assert_string_equal(out.msg[0], want);
	outcome_done(&out);
	lock_file = NULL;
	free(want);
	free(lock);
}

static long
ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Lets the writer stuck on FIFO go: opens it for reading and returns what it wrote; caller frees. */
static char *
drain_fifo(const char *fifo)
{
	char buf[64];
	int fd = open(fifo, O_RDONLY | O_CLOEXEC);   /* the writer's open() returns now */
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	return xstrdup(buf);
}

/* The bounded write: done, refused, and one that does not return (a FIFO nobody reads blocks
 * in open(), as a wedged device's unbind blocks in the kernel). */
static void
test_bounded_write(void **state)
{
	char *sys = xasprintf("%s/sys", tmp), *fifo, *lock, *err = NULL, *want, *got;
	struct pt_host h = { sys, "/proc", NULL, NULL, NULL };
	struct pt_sysfs s;
	struct timespec t0;
	int fd, r;

	(void)state;
	fresh_tree("default");
	pt_sysfs_open(&h, &s);
	assert_int_equal(pt_sysfs_write_bounded(&s, "bus/pci/drivers_probe", "0000:00:02.0", 2000, &err), 0);
	sh("grep -qx 0000:00:02.0 %s/bus/pci/drivers_probe", sys);
	assert_int_equal(pt_sysfs_write_bounded(&s, "bus/pci/drivers/nope/unbind", "0000:00:02.0", 2000, &err), -ENOENT);
	want = xasprintf("cannot open '%s/bus/pci/drivers/nope/unbind': No such file or directory", sys);
	assert_string_equal(err, want);
	free(want);
	free(err);

	/* the lock held while the writer hangs: the writer must not hold it too */
	lock = xasprintf("%s/lock", tmp);
	fd = pt_lock_take(lock, 0, &err);
	assert_true(fd >= 0);
	fifo = xasprintf("%s/bus/pci/drivers/e1000e/unbind", sys);
	sh("rm %s && mkfifo %s", fifo, fifo);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = pt_sysfs_write_bounded(&s, "bus/pci/drivers/e1000e/unbind", "0000:00:02.0", 300, &err);
	assert_int_equal(r, -ETIMEDOUT);
	assert_true(ms_since(&t0) >= 300 && ms_since(&t0) < 1300);
	want = xasprintf("writing '%s' did not return within 300 ms", fifo);
	assert_string_equal(err, want);
	free(want);
	free(err);
	close(fd);
	fd = pt_lock_take(lock, 0, &err);
	assert_true(fd >= 0);   /* no one else holds it: the stuck writer has no descriptor but its own */
	close(fd);
	/* the writer is still there, and writes once it can */
	got = drain_fifo(fifo);
	assert_string_equal(got, "0000:00:02.0");
	free(got);
	pt_sysfs_close(&s);
	free(fifo);
	free(lock);
	free(sys);
}

/* An unbind that does not return: the device's error within the bound; the others go on. */
static void
test_unbind_that_hangs(void **state)
{
	struct pt_step s[3];
	struct outcome out;
	struct timespec t0;
	char *fifo = xasprintf("%s/sys/bus/pci/drivers/e1000e/unbind", tmp), *want, *got;

	(void)state;
	s[0] = step(PT_STEP_UNBIND, "tpu", "00:02.0", "e1000e", NULL);
	s[1] = step(PT_STEP_PROBE, "tpu", "00:02.0", NULL, "vfio-pci");
	s[2] = step(PT_STEP_UNBIND, "nic", "00:03.0", "e1000", NULL);
	fresh_tree("default");
	sh("rm %s && mkfifo %s", fifo, fifo);
	write_timeout_ms = 300;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	apply_here(s, 3, "modprobe", NULL, &out);
	assert_true(ms_since(&t0) < 1800);
	write_timeout_ms = 2000;
	assert_int_equal(out.o[0], PT_STEP_TIMED_OUT);
	want = xasprintf("writing '%s' did not return within 300 ms: the device is probably wedged", fifo);
	assert_string_equal(out.msg[0], want);
	assert_int_equal(out.o[1], PT_STEP_SKIPPED);
	/* the other device's unbind was written (this tree keeps its driver link: caught) */
	assert_int_equal(out.o[2], PT_STEP_FAILED);
	assert_string_equal(out.msg[2], "0000:00:03.0 is still on e1000 after unbind");
	outcome_done(&out);
	got = drain_fifo(fifo);
	assert_string_equal(got, "0000:00:02.0");
	free(got);
	free(want);
	free(fifo);
}

static void
test_load_vfio(void **state)
{
	struct pt_step s[1];
	struct outcome out;

	(void)state;
	s[0] = step(PT_STEP_LOAD_VFIO, NULL, NULL, NULL, "vfio-pci");
	run("default", s, 1, "/bin/false", NULL, &out);
	assert_int_equal(out.o[0], PT_STEP_HELD);   /* the recorded guest has it */
	outcome_done(&out);
	fresh_tree("default");
	sh("rm -rf %s/sys/bus/pci/drivers/vfio-pci", tmp);
	apply_here(s, 1, "/bin/false", NULL, &out);
	assert_int_equal(out.o[0], PT_STEP_FAILED);
	assert_string_equal(out.msg[0], "'/bin/false vfio-pci' failed (exit status 1)");
	outcome_done(&out);
	apply_here(s, 1, "/bin/true", NULL, &out);
	assert_string_equal(out.msg[0], "modprobe vfio-pci succeeded but bus/pci/drivers/vfio-pci did not appear");
	outcome_done(&out);
}


/* power: on on a plain tree: the kernel's values saved first, written, read back; then given back. */
static void
test_power(void **state)
{
	struct pt_step s[2];
	struct outcome out;
	char *lock = xasprintf("%s/run/passthrough.lock", tmp);
	const char *dev = "bus/pci/devices/0000:00:02.0";

	(void)state;
	sh("rm -rf %s/run && mkdir %s/run", tmp, tmp);
	lock_file = lock;
	fresh_tree("e1000e-vfio");
	sh("mkdir -p %s/sys/%s/power && echo auto >%s/sys/%s/power/control && echo 1 >%s/sys/%s/d3cold_allowed",
	   tmp, dev, tmp, dev, tmp, dev);
	s[0] = step(PT_STEP_POWER, "tpu", "00:02.0", "auto", "on");
	s[0].arg = "0";
	s[1] = s[0];
	/* a plain file is no sysfs attribute: "on" over "auto\n" reads "onto", and that is caught */
	apply_here(s, 1, "modprobe", NULL, &out);
	assert_int_equal(out.o[0], PT_STEP_FAILED);
	assert_string_equal(out.msg[0], "power/control reads 'onto' and d3cold_allowed '0' after writing them");
	outcome_done(&out);
	/* the kernel's values were saved before the first write */
	sh("grep -qx 'power 0000:00:02.0 control=auto d3cold_allowed=1' %s/run/passthrough.journal", tmp);
	/* pinned (as the fake tier shows for real); pinned again: the journal keeps the first values */
	sh("printf 'on\\n' >%s/sys/%s/power/control && echo 1 >%s/sys/%s/d3cold_allowed", tmp, dev, tmp, dev);
	apply_here(s, 1, "modprobe", NULL, &out);
	assert_int_equal(out.o[0], PT_STEP_DONE);
	outcome_done(&out);
	sh("grep -qx 'power 0000:00:02.0 control=auto d3cold_allowed=1' %s/run/passthrough.journal", tmp);
	apply_here(s, 1, "modprobe", NULL, &out);
	assert_int_equal(out.o[0], PT_STEP_HELD);
	outcome_done(&out);
	sh("printf 'on\\n' >%s/sys/%s/power/control", tmp, dev);
	sh("grep -qx 'power 0000:00:02.0 control=auto d3cold_allowed=1' %s/run/passthrough.journal", tmp);
	/* given back; the journal forgets it */
	s[0] = step(PT_STEP_POWER, "tpu", "00:02.0", "on", "auto");
	s[0].arg = "1";
	s[0].flags = PT_STEP_UNPIN;
	apply_here(s, 1, "modprobe", NULL, &out);
	assert_int_equal(out.o[0], PT_STEP_DONE);
	outcome_done(&out);
	sh("grep -qx auto %s/sys/%s/power/control && grep -qx 1 %s/sys/%s/d3cold_allowed", tmp, dev, tmp, dev);
	sh("test ! -e %s/run/passthrough.journal", tmp);
	/* a kernel with neither attribute: cannot keep it in D0, said */
	sh("rm -rf %s/sys/%s/power %s/sys/%s/d3cold_allowed", tmp, dev, tmp, dev);
	s[0] = step(PT_STEP_POWER, "tpu", "00:02.0", NULL, "on");
	s[0].arg = "0";
	apply_here(s, 1, "modprobe", NULL, &out);
	assert_int_equal(out.o[0], PT_STEP_FAILED);
	assert_string_equal(out.msg[0], "0000:00:02.0 has neither power/control nor d3cold_allowed: cannot keep it in D0");
	outcome_done(&out);
	lock_file = NULL;
	free(lock);
}

/* Sets the vendor id in the config of 00:02.0 on tmp/sys (0xffff: it does not answer). */
static void
set_vendor(unsigned id)
{
	sh("printf '\\%03o\\%03o' | dd of=%s/sys/bus/pci/devices/0000:00:02.0/config bs=1 count=2 conv=notrunc "
	   "status=none", id & 0xff, id >> 8, tmp);
}

/* check and reset: a device that does not answer is never hot-plugged; a reset is a write of 1. */
static void
test_check_and_reset(void **state)
{
	struct pt_step s[3];
	struct outcome out;

	(void)state;
	s[0] = step(PT_STEP_CHECK, "tpu", "00:02.0", NULL, NULL);
	s[1] = step(PT_STEP_RESET, "tpu", "00:02.0", NULL, NULL);
	s[2] = step(PT_STEP_CHECK, "nic", "00:03.0", NULL, NULL);
	fresh_tree("e1000e-vfio");
	sh("touch %s/sys/bus/pci/devices/0000:00:02.0/reset", tmp);
	apply_here(s, 3, "modprobe", NULL, &out);
	assert_int_equal(out.o[0], PT_STEP_HELD);
	assert_int_equal(out.o[1], PT_STEP_DONE);
	assert_int_equal(out.o[2], PT_STEP_HELD);
	outcome_done(&out);
	sh("grep -qx 1 %s/sys/bus/pci/devices/0000:00:02.0/reset", tmp);
	/* all ones: failed, named, its reset skipped; the other device goes on */
	set_vendor(0xffff);
	apply_here(s, 3, "modprobe", NULL, &out);
	assert_int_equal(out.o[0], PT_STEP_FAILED);
	assert_string_equal(out.msg[0], "0000:00:02.0 does not answer (its config space reads ffff): not hot-plugged; set "
			    "recover: rescan to have passthrough try a reset, remove and a rescan of its bus, or power-cycle "
			    "the host");
	assert_int_equal(out.o[1], PT_STEP_SKIPPED);
	assert_int_equal(out.o[2], PT_STEP_HELD);
	outcome_done(&out);
	/* a reset with no `reset`: failed, said */
	set_vendor(0x8086);
	sh("rm %s/sys/bus/pci/devices/0000:00:02.0/reset", tmp);
	apply_here(s + 1, 1, "modprobe", NULL, &out);
	assert_int_equal(out.o[0], PT_STEP_FAILED);
	assert_string_equal(out.msg[0], "0000:00:02.0 has no 'reset': the kernel knows no way to reset it; take reset: "
			    "before_attach out");
	outcome_done(&out);
	/* gone, and its bus too: a rescan cannot help, said */
	s[0] = step(PT_STEP_RESCAN, "gone", "00:09.0", NULL, NULL);
	sh("rm -rf %s/sys/class/pci_bus", tmp);
	apply_here(s, 1, "modprobe", NULL, &out);
	assert_int_equal(out.o[0], PT_STEP_FAILED);
	assert_string_equal(out.msg[0], "0000:00:09.0 is gone and so is its bus 0000:00 (the bridge above it went too): a "
			    "rescan of that bus cannot bring it back; power-cycle the host");
	outcome_done(&out);
}

/* unload: refused while a vfio device is open (refcnt), else modprobe -r and verified. */
static void
test_unload_vfio(void **state)
{
	struct pt_step s[1];
	struct outcome out;

	(void)state;
	s[0] = step(PT_STEP_UNLOAD_VFIO, NULL, NULL, "vfio-pci", NULL);
	fresh_tree("e1000e-vfio");
	sh("mkdir -p %s/sys/module/vfio_pci && echo 1 >%s/sys/module/vfio_pci/refcnt", tmp, tmp);
	apply_here(s, 1, "/bin/true", NULL, &out);
	assert_int_equal(out.o[0], PT_STEP_FAILED);
	assert_string_equal(out.msg[0], "vfio-pci is in use (refcnt 1): not unloaded");
	outcome_done(&out);
	sh("echo 0 >%s/sys/module/vfio_pci/refcnt", tmp);
	apply_here(s, 1, "/bin/true", NULL, &out);
	assert_int_equal(out.o[0], PT_STEP_FAILED);
	assert_string_equal(out.msg[0], "modprobe -r vfio-pci succeeded but bus/pci/drivers/vfio-pci is still there");
	outcome_done(&out);
}

static void
test_attach_detach(void **state)
{
	struct pt_step s[2];
	struct outcome out;
	char *uri = fixture_libvirt_uri("frigate-attached.xml");

	(void)state;
	s[0] = step(PT_STEP_ATTACH, "tpu", "00:02.0", NULL, "frigate_VM");
	s[0].domain = (char *)"5f0c7a52-8d1e-4c9b-9a57-1b2f3c4d5e6f";
	s[0].flags = PT_STEP_LIVE;
	s[1] = step(PT_STEP_DETACH, "nic", "00:03.0", "frigate_VM", NULL);
	s[1].domain = (char *)"5f0c7a52-8d1e-4c9b-9a57-1b2f3c4d5e6f";
	s[1].flags = PT_STEP_LIVE;
	run("default", s, 2, "modprobe", uri, &out);
	assert_int_equal(out.o[0], PT_STEP_HELD);   /* already in the live XML */
	assert_int_equal(out.o[1], PT_STEP_HELD);   /* not there to detach */
	outcome_done(&out);
	/* the test driver cannot hot-plug: the error comes back with the domain's name */
	s[0].addr.slot = 4;
	run("default", s, 1, "modprobe", uri, &out);
	assert_int_equal(out.o[0], PT_STEP_FAILED);
	assert_non_null(strstr(out.msg[0], "cannot attach 0000:00:04.0 to domain '5f0c7a52-8d1e-4c9b-9a57-1b2f3c4d5e6f': "));
	outcome_done(&out);
	s[0].domain = (char *)"nope";
	run("default", s, 1, "modprobe", uri, &out);
	assert_non_null(strstr(out.msg[0], "cannot find domain 'nope': "));
	outcome_done(&out);
	free(uri);
}

/* PCI domain 10000: held when the live XML says domain='0x10000', never for 0000 at the same bus, slot and function. */
static void
test_attach_domain_10000(void **state)
{
	struct pt_step s[2];
	struct outcome out;
	char *uri = fixture_libvirt_uri("vmd.xml");

	(void)state;
	s[0] = step(PT_STEP_ATTACH, "ssd", "10000:e1:00.0", NULL, "nvr");
	s[0].domain = (char *)"nvr";
	s[0].flags = PT_STEP_LIVE;
	s[1] = step(PT_STEP_ATTACH, "other", "0000:e1:00.0", NULL, "nvr");
	s[1].domain = (char *)"nvr";
	s[1].flags = PT_STEP_LIVE;
	run("vmd", s, 2, "modprobe", uri, &out);
	assert_int_equal(out.o[0], PT_STEP_HELD);
	/* not held: it tries (and the test driver cannot hot-plug) */
	assert_int_equal(out.o[1], PT_STEP_FAILED);
	assert_non_null(strstr(out.msg[1], "cannot attach 0000:e1:00.0 to domain 'nvr': "));
	outcome_done(&out);
	free(uri);
}

static void
test_lock(void **state)
{
	char *path = xasprintf("%s/lock", tmp);
	char *err = NULL;
	int a, b;

	(void)state;
	a = pt_lock_take(path, 0, &err);
	assert_true(a >= 0);
	/* flock is per open file: a second open, even in this process, must wait */
	b = pt_lock_take(path, 100, &err);
	assert_int_equal(b, -EWOULDBLOCK);
	assert_non_null(strstr(err, "another passthrough still holds"));
	free(err);
	close(a);
	b = pt_lock_take(path, 100, &err);
	assert_true(b >= 0);
	close(b);
	free(path);
}

static int
setup(void **state)
{
	(void)state;
	strcpy(tmp, "/tmp/t_apply.XXXXXX");
	return mkdtemp(tmp) ? 0 : -1;
}

static int
teardown(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", tmp);
	int r = system(cmd);

	(void)state;
	free(cmd);
	return r == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_override_set_then_held),
		cmocka_unit_test(test_unbind_is_verified),
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_probe_journal),
		cmocka_unit_test(test_bounded_write),
		cmocka_unit_test(test_unbind_that_hangs),
		cmocka_unit_test(test_load_vfio),
		cmocka_unit_test(test_power),
		cmocka_unit_test(test_check_and_reset),
		cmocka_unit_test(test_unload_vfio),
		cmocka_unit_test(test_attach_detach),
		cmocka_unit_test(test_attach_domain_10000),
		cmocka_unit_test(test_lock),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
