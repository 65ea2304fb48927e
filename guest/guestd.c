/*
 * guestd: the services of the wanmig test guest, one static binary (gcc -static).
 *
 *   guestd echo [UDP_PORT [TCP_PORT]]        UDP echo (every datagram back as is) and TCP echo
 *                                            (every byte back), defaults 7000 and 7001, the ports
 *                                            of mininet-topos/wanmig_probe.py's client; and UDP
 *                                            burst on UDP_PORT + 2: a datagram of at least 7 bytes
 *                                            is answered byte 4 times (at most 64), each copy with
 *                                            byte 5 set to its index, byte 6 x 10 us apart, so the
 *                                            guest sends frames often and apart, each its own
 *                                            transmit (vm_guest_move_test's burst mode); and
 *                                            counters on UDP_PORT + 3: any datagram is answered
 *                                            with the Ip and Udp lines of /proc/net/snmp and
 *                                            eth0's line of /proc/net/dev, as text, so a test can
 *                                            tell at which layer a lost probe went.
 *   guestd writer DEV LOG [INTERVAL_MS]      writes sequence-numbered 4 KiB blocks to DEV with
 *                                            O_DIRECT and fdatasync (a FLUSH on virtio-blk) and,
 *                                            only after the flush returned, logs "ACK run seq slot"
 *                                            to LOG (the second serial port), so every
 *                                            acknowledged write can be checked in the image later.
 *                                            A failed write or flush is logged as "WERR ..." on
 *                                            LOG and on the console, and retried with the same seq.
 *
 * Block layout (little endian): "WANMIGB1", u64 run, u64 seq, u64 slot, then bytes
 * (seq * 131 + i) & 0xff up to byte 4088, then u64 FNV-1a of bytes 0..4087.
 * Block 0 is never written; seq s goes to slot 1 + s % (blocks - 1).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096

/* Waits `ns` on the clock, without sleeping: a TCG guest's timers fire far later than asked
 * (nanosleep(100 us) took about 340 us), and the burst's copies must come that far apart. */
static void spin(long ns)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do
        clock_gettime(CLOCK_MONOTONIC, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < ns);
}

struct udp_service {
    int port;
    int burst;   /* answer byte 4 copies (udp burst) instead of one (echo) */
};

static void *udp_echo(void *arg)
{
    const struct udp_service *service = arg;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(service->port)};
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("guestd: udp bind");
        exit(1);
    }
    /* Room for a few seconds of probes: a TCG guest starved of CPU by its host (live migration's
     * passes, the emulated switches) answers them late instead of dropping them; the drop counters
     * reported below show whether it still had to. */
    int room = 4 << 20;
    if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &room, sizeof room) < 0)
        setsockopt(s, SOL_SOCKET, SO_RCVBUF, &room, sizeof room);
    int burst = service->burst;
    char buf[65536];
    for (;;) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&peer, &len);
        if (n < 0)
            continue;
        int copies = burst ? (n >= 7 ? (unsigned char)buf[4] : 0) : 1;
        long gap_ns = burst && n >= 7 ? (unsigned char)buf[6] * 10000L : 0;
        for (int k = 0; k < copies && k < 64; k++) {
            if (k > 0 && gap_ns > 0)
                spin(gap_ns);
            if (burst)
                buf[5] = (char)k;
            sendto(s, buf, n, 0, (struct sockaddr *)&peer, len);
        }
    }
    return NULL;
}

/* The guest's own drop counters on the console when they grow (sampled once a second): probes a
 * starved guest dropped are then told apart from probes the network lost. */
static long long field(const char *text, const char *header, const char *values, const char *name)
{
    const char *h = strstr(text, header), *v = h ? strstr(h + 1, values) : NULL;
    if (!h || !v)
        return -1;
    char hl[512], vl[512];
    sscanf(h, "%511[^\n]", hl);
    sscanf(v, "%511[^\n]", vl);
    char *hs, *vs, *ht = strtok_r(hl, " ", &hs), *vt = strtok_r(vl, " ", &vs);
    while (ht && vt) {
        if (strcmp(ht, name) == 0)
            return atoll(vt);
        ht = strtok_r(NULL, " ", &hs);
        vt = strtok_r(NULL, " ", &vs);
    }
    return -1;
}

/* A small /proc file as a string; 0 if it cannot be read. */
static int slurp(const char *path, char *text, size_t size)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, text, size - 1);
    close(fd);
    if (n <= 0)
        return 0;
    text[n] = 0;
    return 1;
}

/* Receive and transmit drops of eth0 (/proc/net/dev: rx drop is field 4, tx drop field 12). */
static void eth0_drops(long long *rx, long long *tx)
{
    char text[4096];
    *rx = *tx = -1;
    if (!slurp("/proc/net/dev", text, sizeof text))
        return;
    char *l = strstr(text, "eth0:");
    long long v[16];
    if (l && sscanf(l + 5, "%lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld", &v[0], &v[1], &v[2],
                    &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11]) == 12) {
        *rx = v[3];
        *tx = v[11];
    }
}

/* Packets dropped waiting for ARP resolution, and failed resolutions (/proc/net/stat/arp_cache,
 * hex columns 12 and 7, summed over the CPUs' lines). */
static void arp_drops(long long *unresolved, long long *failed)
{
    char line[512];
    *unresolved = *failed = 0;
    FILE *f = fopen("/proc/net/stat/arp_cache", "r");
    if (!f)
        return;
    if (fgets(line, sizeof line, f)) {
        while (fgets(line, sizeof line, f)) {
            unsigned long long v[13];
            if (sscanf(line, "%llx %llx %llx %llx %llx %llx %llx %llx %llx %llx %llx %llx %llx", &v[0], &v[1], &v[2],
                       &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11], &v[12]) >= 12) {
                *unresolved += (long long)v[11];
                *failed += (long long)v[6];
            }
        }
    }
    fclose(f);
}

/* The counters service: the lines of a /proc file that start with `prefix` (each prefix line
 * appended whole), into out. */
static size_t lines_with(const char *path, const char *prefix, char *out, size_t room)
{
    char text[8192];
    size_t used = 0;
    if (!slurp(path, text, sizeof text))
        return 0;
    for (char *l = text; *l;) {
        char *end = strchr(l, '\n');
        size_t n = end ? (size_t)(end - l) + 1 : strlen(l);
        char *start = l;
        while (*start == ' ')
            start++;
        if (strncmp(start, prefix, strlen(prefix)) == 0 && used + n < room) {
            memcpy(out + used, l, n);
            used += n;
        }
        l += n;
    }
    return used;
}

static void *udp_counters(void *arg)
{
    int port = (int)(intptr_t)arg;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("guestd: udp counters bind");
        return NULL;
    }
    char buf[2048], out[4096];
    for (;;) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        if (recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&peer, &len) < 0)
            continue;
        size_t n = lines_with("/proc/net/snmp", "Ip:", out, sizeof out);
        n += lines_with("/proc/net/snmp", "Udp:", out + n, sizeof out - n);
        n += lines_with("/proc/net/dev", "eth0:", out + n, sizeof out - n);
        sendto(s, out, n, 0, (struct sockaddr *)&peer, len);
    }
    return NULL;
}

static void *drop_reporter(void *arg)
{
    (void)arg;
    long long last[7] = {0, 0, 0, 0, 0, 0, 0};
    char text[8192];
    for (;;) {
        sleep(1);
        if (!slurp("/proc/net/snmp", text, sizeof text))
            continue;
        long long now[7] = {field(text, "Udp: ", "Udp: ", "RcvbufErrors"),
                            field(text, "Udp: ", "Udp: ", "InErrors"),
                            field(text, "Udp: ", "Udp: ", "SndbufErrors"), 0, 0, 0, 0};
        eth0_drops(&now[3], &now[4]);
        arp_drops(&now[5], &now[6]);
        if (memcmp(now, last, sizeof now) != 0) {
            fprintf(stderr, "wanmig-guest: udp RcvbufErrors=%lld InErrors=%lld SndbufErrors=%lld InDatagrams=%lld"
                    " OutDatagrams=%lld eth0 rx_drop=%lld tx_drop=%lld arp unresolved_discards=%lld res_failed=%lld\n",
                    now[0], now[1], now[2], field(text, "Udp: ", "Udp: ", "InDatagrams"),
                    field(text, "Udp: ", "Udp: ", "OutDatagrams"), now[3], now[4], now[5], now[6]);
        }
        memcpy(last, now, sizeof last);
    }
    return NULL;
}

static void *tcp_conn(void *arg)
{
    int c = (int)(intptr_t)arg;
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char buf[16384];
    for (;;) {
        ssize_t n = read(c, buf, sizeof buf);
        if (n <= 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(c, buf + off, n - off);
            if (w <= 0)
                goto out;
            off += w;
        }
    }
out:
    close(c);
    return NULL;
}

static void tcp_echo(int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 64) < 0) {
        perror("guestd: tcp listen");
        exit(1);
    }
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0)
            continue;
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&at, 128 * 1024);
        if (pthread_create(&t, &at, tcp_conn, (void *)(intptr_t)c) != 0)
            close(c);
    }
}

static uint64_t fnv(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static void say(int fd, const char *line)
{
    size_t n = strlen(line);
    while (n > 0) {
        ssize_t w = write(fd, line, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        line += w;
        n -= w;
    }
}

static int writer(const char *dev, const char *logpath, int interval_ms)
{
    int fd = open(dev, O_RDWR | O_DIRECT);
    int log = open(logpath, O_WRONLY | O_NOCTTY);
    int con = open("/dev/console", O_WRONLY | O_NOCTTY);
    if (fd < 0 || log < 0) {
        perror("guestd writer: open");
        return 1;
    }
    uint64_t size = 0;
    if (ioctl(fd, BLKGETSIZE64, &size) < 0 || size < 2 * BLOCK) {
        perror("guestd writer: disk size");
        return 1;
    }
    uint64_t slots = size / BLOCK - 1, run = 0;
    int r = open("/dev/urandom", O_RDONLY);
    if (r < 0 || read(r, &run, sizeof run) != sizeof run)
        run = (uint64_t)time(NULL);
    close(r);
    run &= 0xffffffffffffULL;
    unsigned char *b;
    if (posix_memalign((void **)&b, BLOCK, BLOCK) != 0)
        return 1;
    char line[160];
    snprintf(line, sizeof line, "START %llu %llu\n", (unsigned long long)run, (unsigned long long)slots);
    say(log, line);
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (uint64_t seq = 0;;) {
        uint64_t slot = 1 + seq % slots;
        memcpy(b, "WANMIGB1", 8);
        memcpy(b + 8, &run, 8);
        memcpy(b + 16, &seq, 8);
        memcpy(b + 24, &slot, 8);
        for (int i = 32; i < BLOCK - 8; i++)
            b[i] = (unsigned char)((seq * 131 + i) & 0xff);
        uint64_t h = fnv(b, BLOCK - 8);
        memcpy(b + BLOCK - 8, &h, 8);
        ssize_t w = pwrite(fd, b, BLOCK, (off_t)(slot * BLOCK));
        int err = w == BLOCK ? 0 : (w < 0 ? errno : EIO);
        if (!err && fdatasync(fd) < 0)
            err = errno;
        if (err) {
            snprintf(line, sizeof line, "WERR %llu %llu %llu %s\n", (unsigned long long)run,
                     (unsigned long long)seq, (unsigned long long)slot, strerror(err));
            say(log, line);
            if (con >= 0)
                say(con, line);
            usleep(100 * 1000);
            continue;   /* same seq again */
        }
        snprintf(line, sizeof line, "ACK %llu %llu %llu\n", (unsigned long long)run,
                 (unsigned long long)seq, (unsigned long long)slot);
        say(log, line);
        seq++;
        next.tv_nsec += (long)interval_ms * 1000000L;
        while (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > next.tv_sec + 1)   /* far behind (paused VM): do not burst */
            next = now;
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 2 && !strcmp(argv[1], "echo")) {
        int udp = argc > 2 ? atoi(argv[2]) : 7000, tcp = argc > 3 ? atoi(argv[3]) : 7001;
        static struct udp_service echo, burst;
        echo = (struct udp_service){udp, 0};
        burst = (struct udp_service){udp + 2, 1};
        pthread_t t;
        pthread_create(&t, NULL, udp_echo, &echo);
        pthread_create(&t, NULL, udp_echo, &burst);
        pthread_create(&t, NULL, udp_counters, (void *)(intptr_t)(udp + 3));
        pthread_create(&t, NULL, drop_reporter, NULL);
        tcp_echo(tcp);
        return 0;
    }
    if (argc >= 4 && !strcmp(argv[1], "writer"))
        return writer(argv[2], argv[3], argc > 4 ? atoi(argv[4]) : 20);
    fprintf(stderr, "usage: guestd echo [UDP [TCP]] | guestd writer DEV LOG [INTERVAL_MS]\n");
    return 2;
}
