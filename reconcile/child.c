/* child.c: the one way to run another program: argv, no shell, bounded time, the last line it said on stderr for the error. */
#include "reconcile/child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "model/syserr.h"
#include "model/xalloc.h"

/* "'modprobe vfio-pci'": the command as people would type it (no quoting: it names argv). */
static char *
command_line(const char *const *argv)
{
	char *s = xstrdup(""), *t;

	for (size_t i = 0; argv[i]; i++) {
		t = xasprintf("%s%s%s", s, i ? " " : "", argv[i]);
		free(s);
		s = t;
	}
	return s;
}

/* pt_child_run() with stdin from in_fd (-1: /dev/null); group: the child leads its own process
 * group, all of which the bound kills (a script's own children too). */
static int
run(const char *const *argv, int in_fd, bool group, unsigned timeout_ms, char **reterr)
{
	char said[512] = "", *line, *cmd;
	size_t len = 0;
	int status = 127 << 8, fds[2], r; /* as if exec failed, should waitpid fail */
	bool eof = false;
	pid_t pid;
	ssize_t n;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		r = pt_neg_errno();
		cmd = command_line(argv);
		*reterr = xasprintf("cannot run '%s': %s", cmd, strerror(-r));
		free(cmd);
		return r;
	}
	pid = fork();
	if (pid < 0) {
		r = pt_neg_errno();
		close(fds[0]);
		close(fds[1]);
		cmd = command_line(argv);
		*reterr = xasprintf("cannot run '%s': %s", cmd, strerror(-r));
		free(cmd);
		return r;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (group)
			setpgid(0, 0);
		if (null >= 0) {
			dup2(in_fd >= 0 ? in_fd : null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
		}
		dup2(fds[1], STDERR_FILENO);
		execvp(argv[0], (char *const *)argv);
		dprintf(STDERR_FILENO, "cannot run '%s': %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	for (unsigned waited = 0;; waited += 100) {
		struct pollfd pfd = { eof ? -1 : fds[0], POLLIN, 0 };
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid || (w < 0 && errno != EINTR))
			break;
		if (waited >= timeout_ms) {
			kill(group ? -pid : pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			close(fds[0]);
			cmd = command_line(argv);
			*reterr = xasprintf("'%s' did not finish within %u s; killed it", cmd, (timeout_ms + 999) / 1000);
			free(cmd);
			return -ETIMEDOUT;
		}
		if (poll(&pfd, 1, 100) > 0) { /* a negative fd only sleeps */
			n = read(fds[0], said + len, sizeof(said) - 1 - len);
			eof = n == 0;
			if (n > 0) {
				len += (size_t)n;
				if (len == sizeof(said) - 1) { /* keep the last part */
					memmove(said, said + len / 2, len - len / 2);
					len -= len / 2;
				}
			}
		}
	}
	/* what is already in the pipe */
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	while (len < sizeof(said) - 1 && (n = read(fds[0], said + len, sizeof(said) - 1 - len)) > 0)
		len += (size_t)n;
	said[len] = '\0';
	close(fds[0]);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	while (len && (said[len - 1] == '\n' || said[len - 1] == ' '))
		said[--len] = '\0';
	line = strrchr(said, '\n');
	line = line ? line + 1 : said;
	cmd = command_line(argv);
	*reterr = xasprintf("'%s' failed (%s %d)%s%s", cmd, WIFEXITED(status) ? "exit status" : "signal",
			    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), *line ? ": " : "", line);
	free(cmd);
	return -EIO;
}

int
pt_child_run(const char *const *argv, unsigned timeout_ms, char **reterr)
{
	return run(argv, -1, false, timeout_ms, reterr);
}

/*
 * Forks a grandchild that is nobody's child (setsid, and its parent exits at once), with stdio on
 * /dev/null and no other descriptors. Returns 0 in the grandchild; in the caller, 1 once the
 * middle child is reaped, or a negative errno.
 */
static int
fork_detached(void)
{
	pid_t pid = fork();
	int status, null;

	if (pid < 0)
		return pt_neg_errno();
	if (pid > 0) {
		while (waitpid(pid, &status, 0) < 0)
			if (errno != EINTR)
				return pt_neg_errno();
		return 1;
	}
	if (setsid() < 0 || fork() != 0)
		_exit(0);
	null = open("/dev/null", O_RDWR);
	if (null < 0)
		_exit(127);
	dup2(null, STDIN_FILENO);
	dup2(null, STDOUT_FILENO);
	dup2(null, STDERR_FILENO);
	closefrom(STDERR_FILENO + 1);
	return 0;
}

int
pt_child_run_detached(const char *const *argv, char *const *env, const char *input, unsigned timeout_ms,
		      const char *what)
{
	size_t len = input ? strlen(input) : 0;
	char *err = NULL;
	int in[2], r = fork_detached();

	if (r != 0)
		return r < 0 ? r : 0;
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; env && env[i]; i++)
		putenv(env[i]);
	/* the input waits in the pipe (a pipe holds 64 KiB; an event is far smaller) */
	if (pipe2(in, O_CLOEXEC) < 0)
		_exit(127);
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	for (size_t off = 0; off < len;) {
		ssize_t n = write(in[1], input + off, len - off);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(in[1]);
	if (run(argv, in[0], true, timeout_ms, &err) < 0) {
		syslog(LOG_WARNING, "%s: %s", what, err);
		_exit(1);
	}
	_exit(0);
}

int
pt_child_spawn_detached(const char *path, const char *const *argv)
{
	int r = fork_detached();

	if (r != 0)
		return r < 0 ? r : 0;
	execv(path, (char *const *)argv);
	syslog(LOG_ERR, "cannot run '%s': %s", path, strerror(errno));
	_exit(127);
}
