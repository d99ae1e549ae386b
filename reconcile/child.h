/* child.h: the one way to run another program: argv, no shell, bounded time, the last line it said on stderr for the error. */
#ifndef PT_CHILD_H
#define PT_CHILD_H

/*
 * Runs argv[0] (a path, or a name looked up in PATH) with argv (NULL-terminated), stdin and
 * stdout on /dev/null, stderr read; kills it (SIGKILL) after timeout_ms. Returns 0 when it
 * exited 0, -ETIMEDOUT when it was killed at its bound, -EIO otherwise (a program that
 * cannot be found exits 127 saying so); on error *reterr (the caller frees) is one line: "'modprobe vfio-pci'
 * failed (exit status 1): FATAL: Module vfio-pci not found".
 * Returns when the child exits, not at EOF on its stderr (a helper it leaves behind may hold it).
 */
int pt_child_run(const char *const *argv, unsigned timeout_ms, char **reterr);

/*
 * Runs argv as pt_child_run() does (its own process group, all of it killed after
 * timeout_ms), but fully detached: double fork and setsid, so that the caller never waits for
 * it. input (or nothing) is on its stdin; env ("NAME=value", NULL-terminated, or NULL) is
 * added to our environment. A failure (exit status, signal, the bound) is logged once to
 * syslog as "WHAT: error", never returned. Returns 0 once the middle child exited, or a
 * negative errno (fork).
 */
int pt_child_run_detached(const char *const *argv, char *const *env, const char *input, unsigned timeout_ms,
			  const char *what);

/*
 * Starts path with argv fully detached: double fork, setsid, stdio on /dev/null, no other
 * descriptors, no shell; the program is nobody's child and outlives us. Returns 0 once the
 * middle child exited, or a negative errno (fork). A failing exec is logged to syslog.
 */
int pt_child_spawn_detached(const char *path, const char *const *argv);

#endif
