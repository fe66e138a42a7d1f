/* The kernel paths a sender and a receiver can use, without ncrab's loop
 * around them: which one moves a regular file (or a pipe) over loopback
 * TCP fastest and with the least CPU. bench/README.md ("Why a memory
 * window") has the figures this gave; build and run it to check them on
 * another machine:
 *
 *   cc -O2 -o /tmp/sendpaths bench/sendpaths.c
 *   /tmp/sendpaths recv splice 1048576 20000 > /dev/null &
 *   /usr/bin/time /tmp/sendpaths send mmap 524288 20000 < big.file
 *
 * send MODE CHUNK PORT: stdin to 127.0.0.1:PORT with
 *   copy      read(2) + write(2) through a CHUNK-byte buffer
 *   sendfile  sendfile(2), CHUNK bytes a call (stdin a regular file)
 *   splice    splice(2) stdin -> pipe of CHUNK bytes -> socket
 *   mmap      send(2) from a CHUNK-byte window mapped from stdin (a file)
 * recv MODE CHUNK PORT: listen on 127.0.0.1:PORT, one connection, to stdout
 *   copy      read(2) + write(2) through a CHUNK-byte buffer
 *   splice    splice(2) socket -> pipe of CHUNK bytes -> stdout
 * Blocking I/O, no poll: the ceiling of each path. Loopback only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static int die(const char *what) { perror(what); return 1; }

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s send|recv MODE CHUNK PORT\n", argv[0]);
        return 2;
    }
    const char *role = argv[1], *mode = argv[2];
    size_t chunk = strtoul(argv[3], 0, 10);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[4]))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    long long total = 0;
    ssize_t n;

    if (!strcmp(role, "recv")) {
        int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(l, (void *)&a, sizeof a) || listen(l, 1)) return die("listen");
        int s = accept(l, 0, 0);
        if (s < 0) return die("accept");
        if (!strcmp(mode, "copy")) {
            char *b = malloc(chunk);
            while ((n = read(s, b, chunk)) > 0) {
                if (write_all(1, b, (size_t)n)) return die("write");
                total += n;
            }
        } else {
            int p[2];
            if (pipe(p)) return die("pipe");
            fcntl(p[1], F_SETPIPE_SZ, (int)chunk);
            while ((n = splice(s, 0, p[1], 0, chunk, SPLICE_F_MOVE)) > 0) {
                total += n;
                while (n > 0) {
                    ssize_t m = splice(p[0], 0, 1, 0, (size_t)n, SPLICE_F_MOVE);
                    if (m <= 0) return die("splice to stdout");
                    n -= m;
                }
            }
        }
        fprintf(stderr, "received %lld bytes\n", total);
        return 0;
    }

    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(s, (void *)&a, sizeof a)) return die("connect");
    if (!strcmp(mode, "copy")) {
        char *b = malloc(chunk);
        while ((n = read(0, b, chunk)) > 0) {
            if (write_all(s, b, (size_t)n)) return die("write");
            total += n;
        }
    } else if (!strcmp(mode, "sendfile")) {
        while ((n = sendfile(s, 0, 0, chunk)) > 0) total += n;
        if (n < 0) return die("sendfile");
    } else if (!strcmp(mode, "splice")) {
        int p[2];
        if (pipe(p)) return die("pipe");
        fcntl(p[1], F_SETPIPE_SZ, (int)chunk);
        while ((n = splice(0, 0, p[1], 0, chunk, SPLICE_F_MOVE)) > 0) {
            total += n;
            while (n > 0) {
                ssize_t m = splice(p[0], 0, s, 0, (size_t)n, SPLICE_F_MOVE);
                if (m <= 0) return die("splice to socket");
                n -= m;
            }
        }
    } else if (!strcmp(mode, "mmap")) {
        struct stat st;
        if (fstat(0, &st)) return die("fstat");
        for (off_t off = 0; off < st.st_size; off += (off_t)chunk) {
            size_t len = st.st_size - off < (off_t)chunk ? (size_t)(st.st_size - off) : chunk;
            char *m = mmap(0, len, PROT_READ, MAP_SHARED, 0, off);
            if (m == MAP_FAILED) return die("mmap");
            if (write_all(s, m, len)) return die("send");
            munmap(m, len);
            total += (long long)len;
        }
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    shutdown(s, SHUT_WR);
    char c;
    while (read(s, &c, 1) > 0) {}
    fprintf(stderr, "sent %lld bytes\n", total);
    return 0;
}
