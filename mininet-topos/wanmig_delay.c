/*
 * wanmig-delay: a constant-delay line between two interfaces, for the WAN links of the
 * Mininet testbed (the kernels here have no netem).
 *
 *   wanmig-delay IF_A IF_B DELAY_MS [DELAY_MS_B_TO_A]
 *
 * Every frame received on IF_A is sent on IF_B DELAY_MS later, and the other way round. Runs in
 * a network namespace of its own that holds IF_A and IF_B (the relay ends of two veth pairs
 * whose other ends are switch ports). Per direction: one thread receives (AF_PACKET, ETH_P_ALL,
 * PACKET_IGNORE_OUTGOING so it never sees its own sends), stamps the frame with an absolute
 * deadline and puts it in a ring; one thread sleeps until each frame's deadline
 * (clock_nanosleep TIMER_ABSTIME on CLOCK_MONOTONIC) and sends it. Frame order is kept.
 * The relay has no rate limit: put a shaper (tbf/htb) on the switch-side ends so the queue
 * builds in the qdisc, before the delay, and the delay stays constant under load.
 * A full ring drops the frame (counted). SIGTERM/SIGINT: prints counters on stderr, exits.
 * Dies with its parent (PR_SET_PDEATHSIG) so a crashed testbed leaves no relay behind.
 * Its threads ask for SCHED_FIFO priority 10 (WANMIG_DELAY_RT=0: no), so that a busy machine
 * does not make frames late: they only sleep, block in recv and copy, never spin.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define SLOTS 8192            /* power of two; 8192 full frames = 98 ms at 1 Gbit/s */
#define FRAME 2048            /* MTU 1500 frames; offloads are off on every end */

struct slot {
    struct timespec due;
    uint32_t len;
    unsigned char data[FRAME];
};

struct dir {
    const char *name, *rx_name;
    int rx, tx, tx_ifindex;
    long delay_ns;
    struct slot *ring;
    _Atomic uint64_t head, tail;     /* head: next to fill (receiver), tail: next to send */
    _Atomic int waiting;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    _Atomic uint64_t relayed, dropped, errors;
    _Atomic uint64_t late_sum_ns, late_max_ns, late_over_1ms, depth_max;
};

static int open_sock(const char *ifname, int receive, int *ifindex)
{
    int idx = if_nametoindex(ifname);
    if (!idx) {
        fprintf(stderr, "wanmig-delay: no interface %s\n", ifname);
        exit(1);
    }
    int s = socket(AF_PACKET, SOCK_RAW, receive ? htons(ETH_P_ALL) : 0);
    if (s < 0) {
        perror("wanmig-delay: socket");
        exit(1);
    }
    struct sockaddr_ll a = {.sll_family = AF_PACKET, .sll_ifindex = idx,
                            .sll_protocol = receive ? htons(ETH_P_ALL) : 0};
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("wanmig-delay: bind");
        exit(1);
    }
    if (receive) {
        int one = 1, buf = 8 << 20;
        if (setsockopt(s, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0)
            perror("wanmig-delay: PACKET_IGNORE_OUTGOING");
        struct packet_mreq m = {.mr_ifindex = idx, .mr_type = PACKET_MR_PROMISC};
        setsockopt(s, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &m, sizeof m);
        setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
    } else {
        int buf = 8 << 20;
        setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf);
    }
    if (ifindex)
        *ifindex = idx;
    return s;
}

static void *receiver(void *arg)
{
    struct dir *d = arg;
    for (;;) {
        uint64_t head = atomic_load_explicit(&d->head, memory_order_relaxed);
        uint64_t tail = atomic_load_explicit(&d->tail, memory_order_acquire);
        struct slot *s = &d->ring[head & (SLOTS - 1)];
        static __thread unsigned char spill[FRAME];
        int full = head - tail >= SLOTS;
        ssize_t n = recv(d->rx, full ? spill : s->data, FRAME, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            atomic_fetch_add(&d->errors, 1);
            if (!if_nametoindex(d->rx_name)) {   /* the interface is gone: the link was deleted */
                fprintf(stderr, "wanmig-delay: %s is gone, exiting\n", d->rx_name);
                exit(0);
            }
            usleep(10000);   /* e.g. ENETDOWN while a switch (re)opens its port */
            continue;
        }
        if (full) {
            atomic_fetch_add(&d->dropped, 1);
            continue;
        }
        clock_gettime(CLOCK_MONOTONIC, &s->due);
        s->due.tv_nsec += d->delay_ns;
        while (s->due.tv_nsec >= 1000000000L) {
            s->due.tv_nsec -= 1000000000L;
            s->due.tv_sec++;
        }
        s->len = (uint32_t)n;
        atomic_store_explicit(&d->head, head + 1, memory_order_release);
        if (atomic_load(&d->waiting)) {
            pthread_mutex_lock(&d->lock);
            pthread_cond_signal(&d->cond);
            pthread_mutex_unlock(&d->lock);
        }
    }
    return NULL;
}

static void *sender(void *arg)
{
    struct dir *d = arg;
    struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_ifindex = d->tx_ifindex, .sll_halen = 6};
    for (;;) {
        uint64_t tail = atomic_load_explicit(&d->tail, memory_order_relaxed);
        if (atomic_load_explicit(&d->head, memory_order_acquire) == tail) {
            pthread_mutex_lock(&d->lock);
            atomic_store(&d->waiting, 1);
            while (atomic_load_explicit(&d->head, memory_order_acquire) == tail)
                pthread_cond_wait(&d->cond, &d->lock);
            atomic_store(&d->waiting, 0);
            pthread_mutex_unlock(&d->lock);
        }
        struct slot *s = &d->ring[tail & (SLOTS - 1)];
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &s->due, NULL) == EINTR)
            ;
        /* how late the frame leaves: the delay this relay adds beyond the configured one */
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t late = (int64_t)(now.tv_sec - s->due.tv_sec) * 1000000000LL + (now.tv_nsec - s->due.tv_nsec);
        if (late > 0) {
            atomic_fetch_add(&d->late_sum_ns, (uint64_t)late);
            if ((uint64_t)late > atomic_load(&d->late_max_ns))
                atomic_store(&d->late_max_ns, (uint64_t)late);
            if (late > 1000000)
                atomic_fetch_add(&d->late_over_1ms, 1);
        }
        uint64_t depth = atomic_load(&d->head) - tail;
        if (depth > atomic_load(&d->depth_max))
            atomic_store(&d->depth_max, depth);
        memcpy(to.sll_addr, s->data, 6);
        ssize_t n;
        do {
            n = sendto(d->tx, s->data, s->len, 0, (struct sockaddr *)&to, sizeof to);
        } while (n < 0 && (errno == EINTR || errno == ENOBUFS || errno == EAGAIN) && usleep(50) == 0);
        if (n < 0)
            atomic_fetch_add(&d->errors, 1);
        else
            atomic_fetch_add(&d->relayed, 1);
        atomic_store_explicit(&d->tail, tail + 1, memory_order_release);
    }
    return NULL;
}

static struct dir dirs[2];

static void report(int sig)
{
    char buf[1024];
    int n = 0;
    for (int i = 0; i < 2; i++) {
        unsigned long long relayed = dirs[i].relayed;
        n += snprintf(buf + n, sizeof buf - n,
                      "wanmig-delay %s: relayed %llu dropped %llu errors %llu late_mean_us %.1f "
                      "late_max_us %.1f late_over_1ms %llu depth_max %llu\n",
                      dirs[i].name, relayed, (unsigned long long)dirs[i].dropped,
                      (unsigned long long)dirs[i].errors,
                      relayed ? (double)dirs[i].late_sum_ns / relayed / 1000.0 : 0.0,
                      (double)dirs[i].late_max_ns / 1000.0, (unsigned long long)dirs[i].late_over_1ms,
                      (unsigned long long)dirs[i].depth_max);
    }
    if (write(2, buf, n) < 0) {}
    if (sig == SIGTERM || sig == SIGINT)
        _exit(0);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: wanmig-delay IF_A IF_B DELAY_MS [DELAY_MS_B_TO_A]\n");
        return 2;
    }
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    double ab = atof(argv[3]), ba = argc > 4 ? atof(argv[4]) : ab;
    const char *ifs[2] = {argv[1], argv[2]};
    static char names[2][64];
    for (int i = 0; i < 2; i++) {
        struct dir *d = &dirs[i];
        snprintf(names[i], sizeof names[i], "%s->%s", ifs[i], ifs[1 - i]);
        d->name = names[i];
        d->rx_name = ifs[i];
        d->delay_ns = (long)((i == 0 ? ab : ba) * 1e6);
        d->rx = open_sock(ifs[i], 1, NULL);
        d->tx = open_sock(ifs[1 - i], 0, &d->tx_ifindex);
        d->ring = calloc(SLOTS, sizeof(struct slot));   /* pages are touched only when used */
        if (!d->ring) {
            perror("wanmig-delay: ring");
            return 1;
        }
        pthread_mutex_init(&d->lock, NULL);
        pthread_cond_init(&d->cond, NULL);
    }
    signal(SIGTERM, report);
    signal(SIGINT, report);
    signal(SIGUSR1, report);
    const char *rt = getenv("WANMIG_DELAY_RT");
    if (!rt || strcmp(rt, "0") != 0) {
        struct sched_param sp = {.sched_priority = rt && atoi(rt) > 0 ? atoi(rt) : 10};
        if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0)   /* inherited by the threads below */
            perror("wanmig-delay: SCHED_FIFO (continuing without)");
    }
    pthread_t t[4];
    for (int i = 0; i < 2; i++) {
        pthread_create(&t[2 * i], NULL, receiver, &dirs[i]);
        pthread_create(&t[2 * i + 1], NULL, sender, &dirs[i]);
    }
    fprintf(stderr, "wanmig-delay: %s <-> %s, %.3f ms / %.3f ms\n", ifs[0], ifs[1], ab, ba);
    for (;;)
        pause();
}
