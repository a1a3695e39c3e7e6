#define _GNU_SOURCE
#include "cspawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

extern char **environ;

int cspawn(const cspawn_options *o, pid_t *pid) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int result = posix_spawn_file_actions_init(&actions);
    if (result != 0) return result;
    result = posix_spawnattr_init(&attributes);
    if (result != 0) { posix_spawn_file_actions_destroy(&actions); return result; }

    const int sources[3] = {o->stdin_fd, o->stdout_fd, o->stderr_fd};
    for (int target = 0; target < 3 && result == 0; target++) {
        // glibc (2.29+) clears close-on-exec when a descriptor is dup2'ed onto itself.
        if (sources[target] >= 0) result = posix_spawn_file_actions_adddup2(&actions, sources[target], target);
    }
    if (result == 0 && o->cwd != NULL) result = posix_spawn_file_actions_addchdir_np(&actions, o->cwd);
    if (result == 0) result = posix_spawn_file_actions_addclosefrom_np(&actions, 3);

    sigset_t mask, defaults;
    sigemptyset(&mask);
    sigemptyset(&defaults);
    const int reset[] = {SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGXFSZ, SIGCHLD, SIGTSTP, SIGTTIN, SIGTTOU,
                         SIGALRM, SIGUSR1, SIGUSR2, SIGWINCH};
    for (unsigned i = 0; i < sizeof reset / sizeof reset[0]; i++) sigaddset(&defaults, reset[i]);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (o->new_process_group) flags |= POSIX_SPAWN_SETPGROUP;
    if (result == 0) result = posix_spawnattr_setsigmask(&attributes, &mask);
    if (result == 0) result = posix_spawnattr_setsigdefault(&attributes, &defaults);
    if (result == 0 && o->new_process_group) result = posix_spawnattr_setpgroup(&attributes, 0);
    if (result == 0) result = posix_spawnattr_setflags(&attributes, flags);

    if (result == 0) {
        char *const *envp = o->envp != NULL ? o->envp : environ;
        result = o->search_path ? posix_spawnp(pid, o->path, &actions, &attributes, o->argv, envp)
                                : posix_spawn(pid, o->path, &actions, &attributes, o->argv, envp);
    }
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    return result;
}

int cspawn_pipe(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}
