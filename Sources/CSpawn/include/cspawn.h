#ifndef CSPAWN_H
#define CSPAWN_H

#include <sys/types.h>

/// How to start a child: what it runs, where, and which of the parent's descriptors
/// become its standard input, output and error (-1: the parent's own).
typedef struct {
    const char *path;          // a path, or a bare name looked up in PATH when search_path
    char *const *argv;         // NULL-terminated; argv[0] included
    char *const *envp;         // NULL-terminated; NULL: the parent's environment
    const char *cwd;           // NULL: the parent's working directory
    int stdin_fd;
    int stdout_fd;
    int stderr_fd;
    int search_path;
    int new_process_group;
} cspawn_options;

/// posix_spawn with what a well-behaved child needs and Foundation's Process does not
/// give: every descriptor above 2 closed in the child (so no grandchild, such as a
/// daemon the child starts, keeps one of ours open), an empty signal mask, and the
/// default action for the signals a parent commonly ignores or blocks (SIGINT,
/// SIGQUIT, SIGTERM, SIGPIPE, SIGXFSZ, SIGCHLD and the job-control ones). SIGHUP keeps
/// its disposition, so `nohup` still means something. The child stays in the parent's
/// process group unless new_process_group is set (an editor must, to read the terminal).
/// Returns 0, or an errno value (also for an executable that cannot be run).
int cspawn(const cspawn_options *options, pid_t *pid);

/// pipe2(fds, O_CLOEXEC): a pipe neither end of which leaks into any child.
int cspawn_pipe(int fds[2]);

#endif
