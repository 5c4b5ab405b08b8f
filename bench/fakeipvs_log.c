/* fakeipvs_log.c - bench/fakeipvs.c's IPVS stand-in for keepalived, with a log.
 *
 * Part of pykad's benchmarks (bench/bench_reload.py); GPL-2.0-or-later, like pykad.
 *
 * The same stand-in as bench/fakeipvs.c (keepalived's libnl-genl IPVS requests are
 * acknowledged without a kernel, openlog() is a no-op), and in addition every IPVS
 * request keepalived sends is appended to the file named by $FAKEIPVS_LOG, one line
 * a request: the wall-clock time (CLOCK_REALTIME, seconds) and the whole netlink
 * message in hex, so a benchmark can tell which operations keepalived wrote and
 * when (bench_reload.py decodes them).
 *
 *     gcc -shared -fPIC -O2 -o fakeipvs_log.so fakeipvs_log.c
 *     FAKEIPVS_LOG=ipvs.log LD_PRELOAD=./fakeipvs_log.so keepalived -n -l --check ...
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct nl_sock;
struct nl_msg;
struct nlmsghdr {
    uint32_t nlmsg_len;
    uint16_t nlmsg_type;
    uint16_t nlmsg_flags;
    uint32_t nlmsg_seq;
    uint32_t nlmsg_pid;
};
typedef int (*cb_t)(struct nl_msg *, void *);

struct nlmsghdr *nlmsg_hdr(struct nl_msg *m); /* libnl-3, which keepalived links */

static int *ack_flag;
static FILE *log_file;
static int log_tried;

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
    struct nlmsghdr *h;
    struct timespec ts;
    const unsigned char *p;
    uint32_t i;

    (void)s;
    if (!log_tried) {
        const char *path = getenv("FAKEIPVS_LOG");
        log_tried = 1;
        if (path && *path)
            log_file = fopen(path, "a");
    }
    if (log_file && m) {
        h = nlmsg_hdr(m);
        clock_gettime(CLOCK_REALTIME, &ts);
        fprintf(log_file, "%ld.%06ld ", (long)ts.tv_sec, ts.tv_nsec / 1000);
        p = (const unsigned char *)h;
        for (i = 0; i < h->nlmsg_len && i < 4096; i++)
            fprintf(log_file, "%02x", p[i]);
        fputc('\n', log_file);
        fflush(log_file);
    }
    return 0;
}

int nl_recvmsgs_default(struct nl_sock *s)
{
    (void)s;
    if (ack_flag)
        *ack_flag = 1;
    return 0;
}
