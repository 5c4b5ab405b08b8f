/* fakeipvs.c - an LD_PRELOAD stand-in for the kernel's IPVS, for keepalived's checker.
 *
 * Part of pykad's benchmarks (bench/bench_checkers.py); GPL-2.0-or-later, like pykad.
 *
 * The host the benchmarks run on has no IPVS, and keepalived's checker process
 * (keepalived --check) will not start without it.  keepalived talks to IPVS through
 * libnl-genl; this library replaces the few libnl calls it uses for that so that
 * every IPVS request "succeeds" without a kernel: the "IPVS" generic netlink family
 * resolves to a made-up id, requests are dropped instead of sent, and reading the
 * answer sets the acknowledgement flag keepalived waits for.  Everything else
 * (building the messages, the checkers themselves) is keepalived's own code, so
 * the checker's CPU measured with this library is its cost minus the kernel's IPVS.
 *
 *     gcc -shared -fPIC -O2 -o fakeipvs.so fakeipvs.c
 *     LD_PRELOAD=./fakeipvs.so keepalived -n -l --check -f keepalived.conf ...
 *
 * One more stand-in, for this host rather than for IPVS: with -l keepalived opens
 * syslog with LOG_CONS, and with no syslog daemon (no /dev/log) glibc then writes
 * every log line to /dev/console, here a serial line at ~3 ms a line (11,000
 * "Activating healthchecker" lines: ~30 s of the checker in the kernel at start).
 * openlog() is made a no-op, so syslog opens itself without LOG_CONS and drops the
 * lines; -l still writes them to stderr.
 */
#include <stddef.h>

struct nl_sock;
struct nl_msg;
typedef int (*cb_t)(struct nl_msg *, void *);

static int *ack_flag;

void openlog(const char *ident, int option, int facility)
{
    (void)ident;
    (void)option;
    (void)facility;
}

int genl_ctrl_resolve(struct nl_sock *s, const char *name)
{
    (void)s;
    (void)name;
    return 0x42;
}

int nl_socket_modify_cb(struct nl_sock *s, int type, int kind, cb_t func, void *arg)
{
    (void)s;
    (void)kind;
    (void)func;
    if (type == 1 || type == 4) /* NL_CB_FINISH, NL_CB_ACK: keepalived's "done" flag */
        ack_flag = arg;
    return 0;
}

int nl_socket_modify_err_cb(struct nl_sock *s, int kind, void *func, void *arg)
{
    (void)s;
    (void)kind;
    (void)func;
    (void)arg;
    return 0;
}

int nl_send_auto(struct nl_sock *s, struct nl_msg *m)
{
    (void)s;
    (void)m;
    return 0;
}

int nl_recvmsgs_default(struct nl_sock *s)
{
    (void)s;
    if (ack_flag)
        *ack_flag = 1;
    return 0;
}
