/* The sampler's per-thread hot loop (ompviz/live/sampler.py), loaded with ctypes when a C compiler is found.

   For the known threads of one worker: pread of the thread's open /proc/PID/task/TID/stat (or open/read/close
   when it has no cached fd), parse (comm at the LAST ')', utime+stime = fields 14+15, processor = field 39),
   sched_getaffinity(tid), then the same bookkeeping as the pure-Python path of sampler.py, bit for bit: comm or
   allowed set changed, CPUs seen since the allowed set last changed, migrations seen, and CPU% over a window of
   at least `window` seconds of the thread's own read times. Python keeps building the immutable snapshots.

   Every rule here mirrors Sampler._read_list / _parse_stat in sampler.py; change both together (the tests in
   tests/live/test_procscan.py run both on the same input and compare).

   No Python headers: plain C, so only a C compiler is needed (cc -O2 -shared -fPIC). Not thread-safe per table:
   the sampler holds its lock around every call. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PS_READ 4096 /* bytes read per stat file: what the Python path reads */
#define PS_COMM 256  /* longest comm accepted (COMM_MAX in sampler.py): the kernel prints at most 64 bytes */
#define PS_DIGITS 18 /* longest number accepted: 10^18 clock ticks is far beyond any uptime */

enum { PS_OK = 0, PS_GONE = 1, PS_BAD = 2, PS_NOMEM = 3 };
enum { PS_F_NEW = 1, PS_F_COMM = 2, PS_F_ALLOWED = 4, PS_F_SEEN = 8 };
#define PS_FLAG_SHIFT 4

typedef struct {
    int fd; /* open stat file, or -1: open the path for each read */
    int tid;
    int isnew; /* no reading yet: CPU% 0, no migration counted */
    int has_cpu;
    int cpu;
    int comm_len;
    long long migrations;
    long long ticks;
    int hhead, hlen; /* ring of (time, ticks) readings */
    unsigned char comm[PS_COMM];
} ps_slot;

typedef struct {
    int pid, words, cap, hcap;
    double tick_pct, window;
    ps_slot *slot;
    unsigned long *allowed; /* cap * words: what sched_getaffinity returned last (zero at first) */
    unsigned long *seen;    /* cap * words: CPUs seen since the allowed set last changed */
    double *ht;             /* cap * hcap */
    long long *hk;          /* cap * hcap */
    unsigned long *mask;    /* words: scratch */
    /* per slot, written by ps_scan for the slots scanned */
    int *out_code; /* status | flags << PS_FLAG_SHIFT */
    int *out_cpu;  /* -1: none */
    double *out_pct;
    long long *out_mig;
} ps_table;

/* Words of an affinity mask the kernel accepts (it refuses a buffer shorter than nr_cpu_ids with EINVAL). */
int ps_mask_words(void) {
    for (int words = 16; words <= (1 << 16); words *= 2) {
        size_t size = (size_t)words * sizeof(unsigned long);
        cpu_set_t *set = CPU_ALLOC((int)(size * 8));
        if (set == NULL) return -1;
        int r = sched_getaffinity(0, size, set);
        int e = errno;
        CPU_FREE(set);
        if (r == 0) return words;
        if (e != EINVAL) return -1;
    }
    return -1;
}

int ps_word_bits(void) { return (int)(8 * sizeof(unsigned long)); }

void ps_free(ps_table *t) {
    if (t == NULL) return;
    free(t->slot);
    free(t->allowed);
    free(t->seen);
    free(t->ht);
    free(t->hk);
    free(t->mask);
    free(t->out_code);
    free(t->out_cpu);
    free(t->out_pct);
    free(t->out_mig);
    free(t);
}

static void *grow(void *p, size_t old_bytes, size_t new_bytes, int *ok) {
    void *q = realloc(p, new_bytes);
    if (q == NULL) {
        *ok = 0;
        return p;
    }
    memset((char *)q + old_bytes, 0, new_bytes - old_bytes);
    return q;
}

/* Room for `cap` slots (never shrinks). 0, or -1 when out of memory (the table is unchanged then). */
int ps_reserve(ps_table *t, int cap) {
    if (cap <= t->cap) return 0;
    size_t o = (size_t)t->cap, n = (size_t)cap, w = (size_t)t->words, h = (size_t)t->hcap;
    int ok = 1;
    t->slot = grow(t->slot, o * sizeof(ps_slot), n * sizeof(ps_slot), &ok);
    t->allowed = grow(t->allowed, o * w * sizeof(unsigned long), n * w * sizeof(unsigned long), &ok);
    t->seen = grow(t->seen, o * w * sizeof(unsigned long), n * w * sizeof(unsigned long), &ok);
    t->ht = grow(t->ht, o * h * sizeof(double), n * h * sizeof(double), &ok);
    t->hk = grow(t->hk, o * h * sizeof(long long), n * h * sizeof(long long), &ok);
    t->out_code = grow(t->out_code, o * sizeof(int), n * sizeof(int), &ok);
    t->out_cpu = grow(t->out_cpu, o * sizeof(int), n * sizeof(int), &ok);
    t->out_pct = grow(t->out_pct, o * sizeof(double), n * sizeof(double), &ok);
    t->out_mig = grow(t->out_mig, o * sizeof(long long), n * sizeof(long long), &ok);
    if (!ok) return -1; /* arrays grown so far are merely larger: cap stays, so nothing reads past it */
    t->cap = cap;
    return 0;
}

ps_table *ps_new(int pid, int words, double tick_pct, double window) {
    if (words <= 0) return NULL;
    ps_table *t = calloc(1, sizeof(ps_table));
    if (t == NULL) return NULL;
    t->pid = pid;
    t->words = words;
    t->hcap = 8;
    t->tick_pct = tick_pct;
    t->window = window;
    t->mask = calloc((size_t)words, sizeof(unsigned long));
    if (t->mask == NULL || ps_reserve(t, 16) != 0) {
        ps_free(t);
        return NULL;
    }
    return t;
}

/* A new thread in `slot`: no reading yet, allowed set empty (as the Python path's frozenset()). */
void ps_set(ps_table *t, int slot, int tid, int fd) {
    ps_slot *s = &t->slot[slot];
    memset(s, 0, sizeof(*s));
    s->fd = fd;
    s->tid = tid;
    s->isnew = 1;
    memset(t->allowed + (size_t)slot * t->words, 0, (size_t)t->words * sizeof(unsigned long));
    memset(t->seen + (size_t)slot * t->words, 0, (size_t)t->words * sizeof(unsigned long));
    t->out_code[slot] = 0;
}

int ps_fd(ps_table *t, int slot) { return t->slot[slot].fd; }

/* The per-slot output arrays (they move when ps_reserve grows the table): 0 code, 1 cpu, 2 pct, 3 migrations. */
void *ps_out(ps_table *t, int which) {
    switch (which) {
    case 0: return t->out_code;
    case 1: return t->out_cpu;
    case 2: return t->out_pct;
    case 3: return t->out_mig;
    default: return NULL;
    }
}

/* Copies for Python when a flag said they changed. */
int ps_comm(ps_table *t, int slot, unsigned char *buf) {
    memcpy(buf, t->slot[slot].comm, (size_t)t->slot[slot].comm_len);
    return t->slot[slot].comm_len;
}

void ps_masks(ps_table *t, int slot, unsigned long *allowed, unsigned long *seen) {
    size_t w = (size_t)t->words;
    if (allowed) memcpy(allowed, t->allowed + (size_t)slot * w, w * sizeof(unsigned long));
    if (seen) memcpy(seen, t->seen + (size_t)slot * w, w * sizeof(unsigned long));
}

/* Double every ring (unrolled to start at 0). */
static int grow_hist(ps_table *t) {
    int nh = t->hcap * 2;
    double *ht = malloc((size_t)t->cap * nh * sizeof(double));
    long long *hk = malloc((size_t)t->cap * nh * sizeof(long long));
    if (ht == NULL || hk == NULL) {
        free(ht);
        free(hk);
        return -1;
    }
    for (int s = 0; s < t->cap; s++) {
        ps_slot *sl = &t->slot[s];
        for (int j = 0; j < sl->hlen; j++) {
            int k = (sl->hhead + j) % t->hcap;
            ht[(size_t)s * nh + j] = t->ht[(size_t)s * t->hcap + k];
            hk[(size_t)s * nh + j] = t->hk[(size_t)s * t->hcap + k];
        }
        sl->hhead = 0;
    }
    free(t->ht);
    free(t->hk);
    t->ht = ht;
    t->hk = hk;
    t->hcap = nh;
    return 0;
}

static int is_space(unsigned char c) { /* bytes.split(None): ASCII whitespace */
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* A field of ASCII digits only, at most PS_DIGITS of them (what the Python path accepts too). */
static int number(const unsigned char *p, long n, long long *out) {
    if (n <= 0 || n > PS_DIGITS) return -1;
    long long v = 0;
    for (long i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 0;
}

/* Parse and account one reading of slot `slot`: `data` as read from its stat file, `mask` its allowed set now,
   `now` the monotonic time of the reading in seconds. Returns status | flags << PS_FLAG_SHIFT; PS_BAD leaves the
   slot untouched (the caller forgets the thread). */
int ps_step(ps_table *t, int slot, const unsigned char *data, long len, const unsigned long *mask, double now) {
    ps_slot *s = &t->slot[slot];
    const unsigned char *open_ = memchr(data, '(', (size_t)len);
    const unsigned char *close = memrchr(data, ')', (size_t)len);
    if (open_ == NULL || close == NULL || close < open_) return PS_BAD;
    /* fields after the last ')': f[0] = field 3 (state) ... f[11], f[12] = utime, stime; f[36] = processor */
    const unsigned char *p = close + 1, *end = data + len;
    const unsigned char *fs[37];
    long fl[37];
    int nf = 0;
    while (nf < 37) {
        while (p < end && is_space(*p)) p++;
        if (p >= end) break;
        const unsigned char *q = p;
        while (q < end && !is_space(*q)) q++;
        fs[nf] = p;
        fl[nf] = q - p;
        nf++;
        p = q;
    }
    if (nf < 13) return PS_BAD;
    long long ut, st, cpu = -1;
    if (number(fs[11], fl[11], &ut) || number(fs[12], fl[12], &st)) return PS_BAD;
    long long ticks = ut + st;
    int has_cpu = nf > 36;
    if (has_cpu && number(fs[36], fl[36], &cpu)) return PS_BAD;
    size_t w = (size_t)t->words;
    int wbits = (int)(8 * sizeof(unsigned long));
    /* the mask width covers nr_cpu_ids, and the kernel's processor field is below it */
    if (has_cpu && cpu >= (long long)w * wbits) return PS_BAD;
    long clen = close - (open_ + 1);
    if (clen > PS_COMM) return PS_BAD;
    if (s->hlen + 1 > t->hcap && grow_hist(t) != 0) return PS_NOMEM;

    int flags = 0;
    if (clen != s->comm_len || memcmp(s->comm, open_ + 1, (size_t)clen) != 0) {
        memcpy(s->comm, open_ + 1, (size_t)clen);
        s->comm_len = (int)clen;
        flags |= PS_F_COMM;
    }
    unsigned long *al = t->allowed + (size_t)slot * w, *se = t->seen + (size_t)slot * w;
    if (memcmp(al, mask, w * sizeof(unsigned long)) != 0) { /* rebound: restart `seen` */
        memcpy(al, mask, w * sizeof(unsigned long));
        memset(se, 0, w * sizeof(unsigned long));
        if (has_cpu) se[cpu / wbits] |= 1UL << (cpu % wbits);
        flags |= PS_F_ALLOWED | PS_F_SEEN;
    } else if (has_cpu && !((se[cpu / wbits] >> (cpu % wbits)) & 1UL)) {
        se[cpu / wbits] |= 1UL << (cpu % wbits);
        flags |= PS_F_SEEN;
    }
    /* append (now, ticks) */
    int hc = t->hcap;
    double *ht = t->ht + (size_t)slot * hc;
    long long *hk = t->hk + (size_t)slot * hc;
    int tail = (s->hhead + s->hlen) % hc;
    ht[tail] = now;
    hk[tail] = ticks;
    s->hlen++;
    double pct = 0.0;
    if (s->isnew) {
        s->isnew = 0;
        flags |= PS_F_NEW;
    } else {
        /* drop readings while the second oldest is still at least `window` old */
        while (s->hlen > 2 && now - ht[(s->hhead + 1) % hc] >= t->window) {
            s->hhead = (s->hhead + 1) % hc;
            s->hlen--;
        }
        double t0 = ht[s->hhead];
        long long k0 = hk[s->hhead];
        double span = now - t0;
        if (span <= 0) {
            pct = 0.0;
        } else {
            double x = (double)(ticks - k0) * t->tick_pct / span;
            double y = x > 0.0 ? x : 0.0; /* Python's max(0.0, x): 0.0 unless x is greater */
            pct = y < 100.0 ? y : 100.0;  /* min(100.0, y) */
        }
        if (has_cpu && s->has_cpu && cpu != s->cpu) s->migrations++;
    }
    s->ticks = ticks;
    s->has_cpu = has_cpu;
    s->cpu = has_cpu ? (int)cpu : -1;
    t->out_cpu[slot] = s->cpu;
    t->out_pct[slot] = pct;
    t->out_mig[slot] = s->migrations;
    return PS_OK | flags << PS_FLAG_SHIFT;
}

/* time.monotonic(): CLOCK_MONOTONIC in ns, divided as CPython does. */
static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)((long long)ts.tv_sec * 1000000000LL + ts.tv_nsec) / 1e9;
}

static long read_stat(ps_table *t, ps_slot *s, unsigned char *buf) {
    ssize_t r;
    if (s->fd >= 0) {
        do r = pread(s->fd, buf, PS_READ, 0);
        while (r < 0 && errno == EINTR);
        return r;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", t->pid, s->tid);
    int fd;
    do fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return -1;
    do r = read(fd, buf, PS_READ);
    while (r < 0 && errno == EINTR);
    close(fd);
    return r;
}

/* Read and account the `n` slots listed. out_code[slot] etc. are set for each; returns how many slots have a
   non-zero code (something for Python to do), or -1 when out of memory. */
int ps_scan(ps_table *t, const int *slots, int n) {
    unsigned char buf[PS_READ];
    size_t msize = (size_t)t->words * sizeof(unsigned long);
    int busy = 0;
    for (int i = 0; i < n; i++) {
        int slot = slots[i];
        ps_slot *s = &t->slot[slot];
        long r = read_stat(t, s, buf);
        int code;
        if (r < 0 || sched_getaffinity(s->tid, msize, (cpu_set_t *)t->mask) != 0) {
            code = PS_GONE; /* ENOENT/ESRCH: it ended between listing and reading; EACCES: credentials */
        } else {
            code = ps_step(t, slot, buf, r, t->mask, mono());
            if (code == PS_NOMEM) return -1;
        }
        t->out_code[slot] = code;
        busy += code != 0;
    }
    return busy;
}

/* /proc/stat's per-CPU lines (the kernel prints them first, before "intr"): for each "cpuN" line, busy and total
   ticks (total = user..steal, the first 8 values, missing ones 0; busy = total - idle - iowait), as the Python
   parse_proc_stat. Reads with pread from `fd` into `buf` (room `size`) until the "intr" line or the end. Returns
   how many CPUs were written (cpu id, busy, total) into the arrays of room `max`; -1 when the read failed, -2 when
   `max` is too small, -3 when `buf` is too small (the caller retries with more room). */
int ps_cpu_times(int fd, unsigned char *buf, long size, int *cpu, long long *busy, long long *total, int max) {
    size_t len = 0;
    const unsigned char *intr = NULL;
    for (;;) {
        if (len >= (size_t)size) return -3;
        size_t want = (size_t)size - len;
        ssize_t r = pread(fd, buf + len, want, (off_t)len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        len += (size_t)r;
        intr = memmem(buf, len, "\nintr ", 6);
        if (intr != NULL || (size_t)r < want) break; /* a short read of a /proc seq file is its end */
    }
    const unsigned char *p = buf, *end = intr ? intr : buf + len;
    int n = 0;
    while (p < end) {
        const unsigned char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL) eol = end;
        if (eol - p >= 3 && memcmp(p, "cpu", 3) == 0 && !(eol - p >= 4 && p[3] == ' ')) {
            /* split(None, 9): id, then up to 8 values (a 10th part would be the rest of the line) */
            const unsigned char *fs[9];
            long fl[9];
            int nf = 0;
            const unsigned char *q = p;
            while (nf < 9) {
                while (q < eol && is_space(*q)) q++;
                if (q >= eol) break;
                const unsigned char *e = q;
                while (e < eol && !is_space(*e)) e++;
                fs[nf] = q;
                fl[nf] = e - q;
                nf++;
                q = e;
            }
            long long id, v[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            int ok = nf >= 1 && fl[0] - 3 <= 9 && number(fs[0] + 3, fl[0] - 3, &id) == 0; /* ids < 10^9 */
            for (int k = 1; ok && k < nf; k++) ok = number(fs[k], fl[k], &v[k - 1]) == 0;
            if (ok) {
                if (n >= max) return -2;
                long long tot = 0;
                for (int k = 0; k < 8; k++) tot += v[k];
                cpu[n] = (int)id;
                busy[n] = tot - v[3] - v[4];
                total[n] = tot;
                n++;
            }
        }
        p = eol + 1;
    }
    return n;
}

/* One call per sample (a ctypes call costs tens of microseconds when the caches are cold, as they are every
   interval): for each worker's table, the thread count of its open /proc/PID/task (link count - 2) and, when it is
   still the `expect`ed one, the reading of its listed slots (ps_scan); then /proc/stat (ps_cpu_times). */
typedef struct {
    int ntables;
    ps_table **tables;
    int **scan;    /* per table: the slots to read */
    int *nscan;    /* per table */
    int *dirfd;    /* per table: open /proc/PID/task, or -1 */
    int *expect;   /* per table: threads listed last time (-1: list again in any case) */
    int *result;   /* out per table: -2 list again first (count differs or unknown); -1 out of memory; else as
                      ps_scan (how many slots have a non-zero code) */
    int statfd;    /* /proc/stat, or -1: not read */
    unsigned char *statbuf;
    long statsize;
    int *cpu;
    long long *busy;
    long long *total;
    int maxcpu;
    int ncpu; /* out: ps_cpu_times' result */
} ps_batch;

int ps_sample(ps_batch *b) {
    for (int i = 0; i < b->ntables; i++) {
        struct stat st;
        if (b->expect[i] < 0 || b->dirfd[i] < 0 || fstat(b->dirfd[i], &st) != 0 ||
            (long long)st.st_nlink - 2 != b->expect[i]) {
            b->result[i] = -2;
            continue;
        }
        b->result[i] = ps_scan(b->tables[i], b->scan[i], b->nscan[i]);
    }
    if (b->statfd >= 0)
        b->ncpu = ps_cpu_times(b->statfd, b->statbuf, b->statsize, b->cpu, b->busy, b->total, b->maxcpu);
    return 0;
}
