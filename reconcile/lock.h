/* lock.h: the one lock (flock on a file) that serialises every run: hook, boot, timer, by hand. */
#ifndef PT_LOCK_H
#define PT_LOCK_H

/*
 * Takes an exclusive flock on path (created 0600 if missing), waiting up to timeout_ms.
 * Returns the descriptor that holds it (close it to release), or a negative errno with
 * *reterr set (the caller frees).
 */
#ifndef PT_LOCK_FILE
#define PT_LOCK_FILE "/run/passthrough.lock"
#endif

int pt_lock_take(const char *path, unsigned timeout_ms, char **reterr);

#endif
