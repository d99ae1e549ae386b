/* t_install.c: unit tests of install's pure parts: clean paths, the manifest's rules, and the planners on trees built by hand (no file system). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "model/install_layout.h"
#include "model/install_manifest.h"
#include "model/install_plan.h"
#include "model/xalloc.h"

static void
test_clean_paths(void **state)
{
	static const struct {
		const char *path;
		bool clean, ok;
	} cases[] = {
		{ "/etc/passthrough.yaml", true, true }, { "/", true, false }, { "/etc/", false, false },
		{ "/../x.yaml", false, false }, { "/etc/./p.yaml", false, false }, { "//etc/p.yaml", false, false },
		{ "etc/p.yaml", false, false }, { "/etc/my p.yaml", true, false }, { "/etc/p.yaml; touch x", true, false },
		{ "/a/..b/c", true, true }, { "/a\tb", false, false }, { "/a/b..", true, true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (pt_path_clean(cases[i].path) != cases[i].clean || pt_install_path_ok(cases[i].path) != cases[i].ok)
			fail_msg("'%s': clean %d ok %d", cases[i].path, pt_path_clean(cases[i].path),
				 pt_install_path_ok(cases[i].path));
	}
}

/* Parses HEAD + body for the DSM layout; returns the error line (0 when it parses) and the reason. */
static unsigned
parse(const char *body, char **why)
{
	char *text = xasprintf("passthrough-install 1 dsm: what passthrough install changed\n%s", body);
	struct pt_manifest m;
	unsigned line = 0;
	int r = pt_manifest_parse(PT_LAYOUT_DSM, text, &m, &line, why);

	free(text);
	if (r == 0) {
		pt_manifest_done(&m);
		*why = NULL;
		return 0;
	}
	return line;
}

static void
test_manifest_rules(void **state)
{
	static const struct {
		const char *body;
		unsigned line;        /* 0: accepted */
		const char *why;      /* NULL: not a record at all */
	} cases[] = {
		{ "dir\t/usr/local/lib\nfile\t/usr/local/bin/passthrough\nmtime\t/usr/local\t1.000000000\n", 0, "" },
		{ "option\tconfig\t/usr/local/etc/passthrough.yaml\nconfig\t/data/p.yaml\ndir\t/data\n", 0, "" },
		{ "edited\t/var/packages/Virtualization/conf/systemd/insert_libvirtd_ko.sh\n", 2, NULL },
		{ "dir\t/usr/local/lib\nfile\t/usr/local/bin/../../../etc/shadow\n", 3,
		  "'/usr/local/bin/../../../etc/shadow' is not a clean absolute path" },
		{ "file\t/etc/shadow\n", 2, "'/etc/shadow' is not a file install writes" },
		{ "dir\t/etc/ssh\n", 2, "'/etc/ssh' is not a directory install creates" },
		{ "dir\t/\n", 2, "'/' is not a directory install creates" },
		{ "replaced\t/usr/local/bin/passthrough\t/etc/passwd\n", 2, "'/etc/passwd' is not a backup install writes" },
		{ "moved\t/etc/libvirt/hooks/qemu\t/tmp/x\n", 2,
		  "install moves only '/etc/libvirt/hooks/qemu', to '/etc/libvirt/hooks/qemu.passthrough-orig'" },
		{ "option\tconfig\t/etc/p.yaml; touch /tmp/x; :\n", 2,
		  "option 'config' is '/etc/p.yaml; touch /tmp/x; :', not an absolute path of letters, digits and /._+-" },
		{ "option\tshell\t/bin/sh\n", 2, "'shell' is not an option install records" },
		{ "mtime\t/usr/local\tyesterday\n", 2, "'yesterday' is not a time" },
		{ "link\t/usr/local/lib/systemd/system/passthrough.timer\t/x\n", 2,
		  "'/usr/local/lib/systemd/system/passthrough.timer' is not a link install writes" },
		{ "unknown\t/x\n", 2, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *why = NULL;
		unsigned line = parse(cases[i].body, &why);

		if (line != cases[i].line || (cases[i].line && (!why) != (!cases[i].why)) ||
		    (why && cases[i].why && strcmp(why, cases[i].why) != 0))
			fail_msg("case %zu: line %u (want %u), '%s' (want '%s')", i, line, cases[i].line, why ? why : "(null)",
				 cases[i].why ? cases[i].why : "(null)");
		free(why);
	}
}

/* ---- a tree by hand: the paths the planner asks for, missing unless named ---- */

struct spec {
	const char *path;
	const char *data;        /* a file's bytes */
	const char *link;        /* a link's target */
	const char *names[4];    /* a directory's entries */
	unsigned mode;           /* 0: missing */
	int err;                 /* a resolution error (-EXDEV) */
};

static struct pt_fnode *
add_node(struct pt_ftree *t, const char *path)
{
	struct pt_fnode *n = (struct pt_fnode *)pt_ftree_get(t, path);

	if (n)
		return n;
	xgrow(&t->v, &t->cap, t->n + 1, sizeof(*t->v));
	n = &t->v[t->n++];
	memset(n, 0, sizeof(*n));
	n->path = xstrdup(path);
	n->real = xstrdup(path);
	n->mtime_s = 1000;
	n->mtime_ns = 5;
	return n;
}

/* The tree the planners see for layout l with manifest m: every path they want and its
 * directories, as specs say (the others missing). */
static void
build(struct pt_ftree *t, enum pt_layout l, const struct pt_manifest *m, const struct spec *specs)
{
	struct pt_install_options o = { pt_layout_paths(l)->config, "/run/passthrough.lock" };
	struct pt_wants w;

	memset(t, 0, sizeof(*t));
	t->root = xstrdup("/r");
	t->root_real = xstrdup("/r");
	pt_install_wants(l, &o, m, &w);
	for (size_t i = 0; i < w.n; i++) {
		char *d = xstrdup(w.v[i].path);

		add_node(t, d)->flags = w.v[i].flags;
		while (strcmp(d, "/") != 0) {
			char *p = pt_path_parent(d);

			free(d);
			d = p;
			add_node(t, d);
		}
		free(d);
	}
	pt_wants_done(&w);
	for (; specs && specs->path; specs++) {
		struct pt_fnode *n = add_node(t, specs->path);

		n->exists = specs->mode != 0;
		n->mode = specs->mode;
		if (specs->data) {
			n->data = xstrdup(specs->data);
			n->len = strlen(specs->data);
		}
		if (specs->link)
			n->link = xstrdup(specs->link);
		if (specs->err) {
			n->err = specs->err;
			free(n->real);
			n->real = NULL;
			n->escape = xstrdup("/elsewhere");
		}
		for (size_t k = 0; k < 4 && specs->names[k]; k++) {
			size_t cap = n->n_names;

			xgrow(&n->names, &cap, n->n_names + 1, sizeof(*n->names));
			n->names[n->n_names++] = xstrdup(specs->names[k]);
		}
	}
}

static const struct pt_fileop *
find_op(const struct pt_install_plan *p, enum pt_fileop_kind k, const char *path)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->ops[i].kind == k && strcmp(p->ops[i].path, path) == 0)
			return &p->ops[i];
	return NULL;
}

#define DIR_MODE (S_IFDIR | 0755)

static const struct spec systemd_host[] = {
	{ .path = "/", .mode = DIR_MODE, .names = { "etc" } },
	{ .path = "/etc", .mode = DIR_MODE },
	{ .path = "/etc/systemd", .mode = DIR_MODE },
	{ .path = "/etc/systemd/system", .mode = DIR_MODE },
	{ .path = "/etc/libvirt", .mode = DIR_MODE },
	{ .path = "/etc/systemd/system/passthrough.service", .mode = S_IFREG | 0644, .data = "[Service]\n" },
	{ .path = NULL },
};

static void
plan_on(const struct spec *specs, const struct pt_manifest *m, struct pt_install_plan *p, int want_r,
	char **reterr)
{
	struct pt_manifest none = { PT_LAYOUT_SYSTEMD, NULL, 0, 0 };
	struct pt_ftree t;
	struct pt_install_input in = { 0 };

	build(&t, PT_LAYOUT_SYSTEMD, m ? m : &none, specs);
	in.layout = PT_LAYOUT_SYSTEMD;
	in.default_lock = "/run/passthrough.lock";
	in.m = m ? m : &none;
	in.have_manifest = m != NULL;
	in.other_installed = -1;
	in.tree = &t;
	in.self = "ELF";
	in.self_len = 3;
	assert_int_equal(pt_install_plan_compute(&in, p, reterr), want_r);
	pt_ftree_done(&t);
}

static void
test_first_install(void **state)
{
	struct pt_install_plan p;
	const struct pt_fileop *op, *rec, *commit, *bak;
	char *err = NULL;

	(void)state;
	plan_on(systemd_host, NULL, &p, 0, &err);
	/* the state directory is built under a staging name that carries /'s mtime, then renamed */
	op = find_op(&p, PT_FILEOP_MKDIR, "/var");
	assert_non_null(op);
	assert_string_equal(op->real, "/var.passthrough-stage-1000.000000005");
	bak = find_op(&p, PT_FILEOP_BACKUP, "/etc/systemd/system/passthrough.service");
	rec = find_op(&p, PT_FILEOP_RECORD, "/var/lib/passthrough/manifest");
	commit = find_op(&p, PT_FILEOP_COMMIT, "/var");
	assert_non_null(bak);
	assert_non_null(rec);
	assert_non_null(commit);
	assert_string_equal(bak->backup_real, "/var.passthrough-stage-1000.000000005/lib/passthrough/backup-0");
	/* the backup before the record naming it, the record before the commit, the commit before any change */
	assert_true(bak < rec && rec < commit);
	assert_true(commit < find_op(&p, PT_FILEOP_MKDIR, "/usr"));
	assert_non_null(strstr(rec->content, "\nreplaced\t/etc/systemd/system/passthrough.service\t/var/lib/passthrough/backup-0\n"));
	assert_non_null(strstr(rec->content, "\nmtime\t/\t1000.000000005\n"));
	assert_non_null(strstr(rec->content, "\nmtime\t/etc/systemd/system\t1000.000000005\n"));
	/* typed: units and their links reload systemd, the hook does not */
	op = find_op(&p, PT_FILEOP_ENABLE_UNIT, "/etc/systemd/system/timers.target.wants/passthrough.timer");
	assert_non_null(op);
	assert_true(op->unit);
	assert_string_equal(op->target, "/etc/systemd/system/passthrough.timer");
	op = find_op(&p, PT_FILEOP_CREATE, PT_HOOK_PATH);
	assert_non_null(op);
	assert_false(op->unit);
	op = find_op(&p, PT_FILEOP_REPLACE, "/etc/systemd/system/passthrough.service");
	assert_non_null(op);
	assert_string_equal(op->backup, "/var/lib/passthrough/backup-0");
	assert_true(op->unit);
	pt_install_plan_done(&p);
}

static void
test_stage_left_by_a_kill(void **state)
{
	struct spec specs[sizeof(systemd_host) / sizeof(systemd_host[0])];
	struct pt_install_plan p;
	const struct pt_fileop *rec;
	char *err = NULL;

	(void)state;
	memcpy(specs, systemd_host, sizeof(specs));
	specs[0].names[1] = "var.passthrough-stage-77.000000001";   /* / has changed since: its mtime is in the name */
	plan_on(specs, NULL, &p, 0, &err);
	assert_string_equal(find_op(&p, PT_FILEOP_MKDIR, "/var")->real, "/var.passthrough-stage-77.000000001");
	rec = find_op(&p, PT_FILEOP_RECORD, "/var/lib/passthrough/manifest");
	assert_non_null(rec);
	assert_non_null(strstr(rec->content, "\nmtime\t/\t77.000000001\n"));
	pt_install_plan_done(&p);
}

static void
test_unstage_left_by_a_kill(void **state)
{
	struct spec specs[sizeof(systemd_host) / sizeof(systemd_host[0])];
	struct pt_install_plan p;
	const struct pt_fileop *op;
	char *err = NULL;

	(void)state;
	memcpy(specs, systemd_host, sizeof(specs));
	specs[0].names[1] = "var.passthrough-unstage-66.000000003";   /* an uninstall stopped after its rename */
	plan_on(specs, NULL, &p, 0, &err);
	/* first that uninstall's end: its directories, and /'s mtime as the name says */
	assert_int_equal(p.ops[0].kind, PT_FILEOP_CLEAN);
	assert_string_equal(p.ops[0].real, "/var.passthrough-unstage-66.000000003/lib/passthrough/manifest");
	op = find_op(&p, PT_FILEOP_RMDIR, "/var.passthrough-unstage-66.000000003");
	assert_non_null(op);
	op = find_op(&p, PT_FILEOP_SETTIME, "/");
	assert_non_null(op);
	assert_true(op->mtime_s == 66 && op->mtime_ns == 3);
	/* then the install, staged under /'s mtime as it is about to be again */
	assert_string_equal(find_op(&p, PT_FILEOP_MKDIR, "/var")->real, "/var.passthrough-stage-66.000000003");
	assert_true(op < find_op(&p, PT_FILEOP_MKDIR, "/var"));
	pt_install_plan_done(&p);
}

static void
test_link_out_of_the_root(void **state)
{
	struct spec specs[sizeof(systemd_host) / sizeof(systemd_host[0]) + 1];
	struct pt_install_plan p;
	char *err = NULL;

	(void)state;
	memcpy(specs, systemd_host, sizeof(systemd_host));
	specs[6] = (struct spec){ .path = PT_HOOK_PATH, .err = -EXDEV };
	specs[7] = (struct spec){ .path = NULL };
	plan_on(specs, NULL, &p, -EXDEV, &err);
	assert_string_equal(err, "refusing '/r/etc/libvirt/hooks/qemu': it leads to '/elsewhere', outside the root '/r'");
	assert_int_equal(p.n, 0);
	free(err);
	pt_install_plan_done(&p);
}

static void
test_uninstall_order(void **state)
{
	struct pt_manifest m;
	struct pt_install_plan p;
	struct pt_install_input in = { 0 };
	struct pt_ftree t;
	char *why = NULL, *err = NULL;
	unsigned line;
	const char *text = "passthrough-install 1 systemd: x\n"
			   "dir\t/var\ndir\t/var/lib\ndir\t/var/lib/passthrough\n"
			   "mtime\t/\t1.000000002\nmtime\t/etc\t3.000000004\n"
			   "config\t/etc/passthrough.yaml\n";
	const struct spec specs[] = {
		{ .path = "/", .mode = DIR_MODE },
		{ .path = "/etc", .mode = DIR_MODE },
		{ .path = "/var", .mode = DIR_MODE },
		{ .path = "/var/lib", .mode = DIR_MODE },
		{ .path = "/var/lib/passthrough", .mode = DIR_MODE, .names = { "manifest", "backup-3" } },
		{ .path = "/etc/passthrough.yaml", .mode = S_IFREG | 0600 },
		{ .path = NULL },
	};
	size_t settime_etc = 0, unstage = 0, clean_manifest = 0, rmdir_var = 0, settime_root = 0, clean_orphan = 0;

	(void)state;
	assert_int_equal(pt_manifest_parse(PT_LAYOUT_SYSTEMD, text, &m, &line, &why), 0);
	build(&t, PT_LAYOUT_SYSTEMD, &m, specs);
	((struct pt_fnode *)pt_ftree_get(&t, "/etc/passthrough.yaml"))->data = xstrdup(pt_config_template());
	((struct pt_fnode *)pt_ftree_get(&t, "/etc/passthrough.yaml"))->len = strlen(pt_config_template());
	in.layout = PT_LAYOUT_SYSTEMD;
	in.default_lock = "/run/passthrough.lock";
	in.m = &m;
	in.have_manifest = true;
	in.other_installed = -1;
	in.tree = &t;
	assert_int_equal(pt_uninstall_plan_compute(&in, &p, &err), 0);
	assert_non_null(find_op(&p, PT_FILEOP_REMOVE, "/etc/passthrough.yaml"));
	for (size_t i = 0; i < p.n; i++) {
		const struct pt_fileop *op = &p.ops[i];

		if (op->kind == PT_FILEOP_SETTIME && strcmp(op->path, "/etc") == 0)
			settime_etc = i + 1;
		if (op->kind == PT_FILEOP_SETTIME && strcmp(op->path, "/") == 0) {
			settime_root = i + 1;
			assert_true(op->mtime_s == 1 && op->mtime_ns == 2);
		}
		if (op->kind == PT_FILEOP_UNSTAGE && strcmp(op->path, "/var") == 0) {
			unstage = i + 1;
			/* the state directory goes whole, under a name that keeps /'s mtime before install */
			assert_string_equal(op->target, "/var.passthrough-unstage-1.000000002");
		}
		if (op->kind == PT_FILEOP_CLEAN && strcmp(op->real, "/var.passthrough-unstage-1.000000002/lib/passthrough/manifest") == 0)
			clean_manifest = i + 1;
		if (op->kind == PT_FILEOP_CLEAN && strcmp(op->path, "/var/lib/passthrough/backup-3") == 0)
			clean_orphan = i + 1;
		if (op->kind == PT_FILEOP_RMDIR && strcmp(op->path, "/var") == 0) {
			rmdir_var = i + 1;
			assert_string_equal(op->real, "/var.passthrough-unstage-1.000000002");
		}
	}
	/* the orphan backup a kill left, then /etc's mtime; the state directory renamed, emptied, removed; /'s mtime */
	assert_true(clean_orphan && clean_orphan < settime_etc);
	assert_true(settime_etc && settime_etc < unstage && unstage < clean_manifest);
	assert_true(clean_manifest < rmdir_var && rmdir_var < settime_root);
	assert_int_equal(settime_root, p.n);
	pt_install_plan_done(&p);
	pt_manifest_done(&m);
	pt_ftree_done(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_paths),
		cmocka_unit_test(test_manifest_rules),
		cmocka_unit_test(test_first_install),
		cmocka_unit_test(test_stage_left_by_a_kill),
		cmocka_unit_test(test_unstage_left_by_a_kill),
		cmocka_unit_test(test_link_out_of_the_root),
		cmocka_unit_test(test_uninstall_order),
	};

	return cmocka_run_group_tests_name("install", tests, NULL, NULL);
}
