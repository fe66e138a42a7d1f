/*
 * delaynet: a userspace delay/loss link between two TUN devices, for
 * kernels without the netem qdisc (bench/netscan.sh).
 *
 *   delaynet IN OUT DELAY_MS JITTER_MS LOSS_PERMILLE [SEED]
 *
 * Creates (or attaches to) the TUN devices IN and OUT (IFF_TUN, no packet
 * information), reads every IP packet the kernel routes into IN, drops it
 * with probability LOSS_PERMILLE/1000, and writes it into OUT after
 * DELAY_MS +- JITTER_MS (uniform), as if it had arrived on OUT. The kernel
 * then routes it again (the router namespace's policy routing sends what
 * comes in on OUT to its real destination). Packets leave in order of their
 * release time, so jitter can reorder them, as on a real path.
 *
 * One thread, one poll loop: the queue is a binary min-heap on release
 * time (at most QMAX packets, beyond which packets are dropped and counted,
 * like a full router queue). On SIGINT/SIGTERM it prints its counters on
 * stderr and exits; with SIGUSR1 it prints them and goes on.
 *
 * Build: cc -O2 -o delaynet bench/delaynet.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define QMAX 65536
#define MTU 2048

struct pkt {
	uint64_t due; /* release time, ns */
	uint16_t len;
	unsigned char data[MTU];
};

static struct pkt *pool;           /* QMAX packets */
static uint32_t heap[QMAX];        /* indices into pool, min-heap on due */
static uint32_t freelist[QMAX];
static uint32_t nheap, nfree;
static volatile sig_atomic_t stop, dump;
static uint64_t n_in, n_out, n_lost, n_full, max_q;

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* xorshift64*: deterministic with a seed, no libc rand state. */
static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ull;
}

static int tun_open(const char *name)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		perror("open /dev/net/tun");
		exit(1);
	}
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		fprintf(stderr, "TUNSETIFF %s: %s\n", name, strerror(errno));
		exit(1);
	}
	return fd;
}

static void heap_push(uint32_t i)
{
	uint32_t k = nheap++;
	heap[k] = i;
	while (k > 0) {
		uint32_t p = (k - 1) / 2;
		if (pool[heap[p]].due <= pool[heap[k]].due)
			break;
		uint32_t t = heap[p];
		heap[p] = heap[k];
		heap[k] = t;
		k = p;
	}
}

static uint32_t heap_pop(void)
{
	uint32_t top = heap[0], k = 0;
	heap[0] = heap[--nheap];
	for (;;) {
		uint32_t l = 2 * k + 1, r = l + 1, m = k;
		if (l < nheap && pool[heap[l]].due < pool[heap[m]].due)
			m = l;
		if (r < nheap && pool[heap[r]].due < pool[heap[m]].due)
			m = r;
		if (m == k)
			break;
		uint32_t t = heap[m];
		heap[m] = heap[k];
		heap[k] = t;
		k = m;
	}
	return top;
}

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		dump = 1;
	else
		stop = 1;
}

static void counters(void)
{
	fprintf(stderr,
		"delaynet: in %llu out %llu lost %llu queue-full %llu max-queue %llu\n",
		(unsigned long long)n_in, (unsigned long long)n_out,
		(unsigned long long)n_lost, (unsigned long long)n_full,
		(unsigned long long)max_q);
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: %s IN OUT DELAY_MS JITTER_MS LOSS_PERMILLE [SEED]\n", argv[0]);
		return 2;
	}
	int in = tun_open(argv[1]), out = tun_open(argv[2]);
	uint64_t delay = strtoull(argv[3], NULL, 10) * 1000000u;
	uint64_t jitter = strtoull(argv[4], NULL, 10) * 1000000u;
	uint64_t loss = strtoull(argv[5], NULL, 10);
	if (argc > 6)
		rng = strtoull(argv[6], NULL, 10) * 2654435761u + 1;
	if (jitter > delay)
		jitter = delay;
	pool = malloc(sizeof(struct pkt) * QMAX);
	if (!pool) {
		perror("malloc");
		return 1;
	}
	for (uint32_t i = 0; i < QMAX; i++)
		freelist[nfree++] = QMAX - 1 - i;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);

	while (!stop) {
		if (dump) {
			dump = 0;
			counters();
		}
		uint64_t now = now_ns();
		/* Release everything that is due. */
		while (nheap > 0 && pool[heap[0]].due <= now) {
			uint32_t i = heap_pop();
			if (write(out, pool[i].data, pool[i].len) >= 0)
				n_out++;
			freelist[nfree++] = i;
		}
		int timeout = -1;
		if (nheap > 0) {
			uint64_t wait = pool[heap[0]].due - now;
			timeout = (int)((wait + 999999) / 1000000);
		}
		struct pollfd p = {.fd = in, .events = POLLIN};
		int r = poll(&p, 1, timeout);
		if (r < 0 && errno != EINTR) {
			perror("poll");
			break;
		}
		if (r <= 0)
			continue;
		/* Read all that is there. */
		for (int burst = 0; burst < 1024; burst++) {
			unsigned char buf[MTU];
			ssize_t n = read(in, buf, sizeof buf);
			if (n <= 0)
				break;
			n_in++;
			if (loss && rnd() % 1000 < loss) {
				n_lost++;
				continue;
			}
			if (nfree == 0) {
				n_full++;
				continue;
			}
			uint32_t i = freelist[--nfree];
			uint64_t j = jitter ? rnd() % (2 * jitter + 1) : 0;
			pool[i].due = now_ns() + delay - jitter + j;
			pool[i].len = (uint16_t)n;
			memcpy(pool[i].data, buf, (size_t)n);
			heap_push(i);
			if (nheap > max_q)
				max_q = nheap;
		}
	}
	counters();
	return 0;
}
