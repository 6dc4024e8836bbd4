/*
 * _walker.c: the native engine of the retained-size walk (memory_doctor.heap).
 *
 * Same phases and same results as memory_doctor/heap/pywalker.py, the reference: read its
 * docstring first. Built over the documented CPython C API only: Py_TYPE,
 * Py_REFCNT, tp_traverse with a visitproc, PyObject_IS_GC, PyList/PyTuple
 * GET_ITEM, PyDict_Next, PyIter_Next, PyUnicode_CHECK_INTERNED. The version
 * knowledge that sizes need (pre-header, 3.11 inline values) comes from the
 * Python side, per type, as plain numbers.
 *
 * Rules: no global state (everything hangs off the Walker object); the GIL is
 * held throughout; no allocation per visited object (arrays grow by
 * doubling); no Python code inside tp_traverse (children are collected with a
 * strong reference, then handled); a strong reference to every object stored
 * (nodes, frames, pending children, the largest inline objects) so that no
 * address can be freed and reused between steps.
 */
#define _GNU_SOURCE /* mremap */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <sys/mman.h>
#include <unistd.h>
#endif

enum { M_LEAF, M_TRAVERSE, M_SEQ, M_DICT, M_EXPAND, M_STOP, M_SET, M_IGNORE };
enum { S_BASIC, S_SIZEOF, S_CALL, S_ZERO };
enum { F_WALL = 1, F_STOP = 2, F_UNREACHED = 4, F_SEED = 8, F_OUTSIDE = 16 };
/* Frame kinds. K_KIDS: children already collected (a huge tp_traverse), handled
   in chunks; K_MORE: an expander's `more(pos) -> (list, next_pos)` source. */
enum { K_TRAVERSE, K_SEQ, K_DICT, K_DSUB, K_SET, K_EXPAND, K_LIST, K_KIDS, K_MORE };
enum { PH_SETUP, PH_WALK, PH_COUNT, PH_CHECK, PH_SCC, PH_PROPAGATE, PH_ACCOUNT, PH_RESULT, PH_DONE };
static const char *const PHASE_NAMES[] = {"setup", "walk",    "count",  "check", "scc",
                                          "propagate", "account", "result", "done"};

#define CHUNK 1024
/* A tp_traverse that yields more children than this is handled in chunks. */
#define KIDS_CHUNK (4 * CHUNK)
#define NONE 0xFFFFFFFFu
#define OUTSIDE_CAP 1000
#define IMMORTAL ((Py_ssize_t)1 << 28)

/* ------------------------------------------------------------------ memory helpers */

/* Arrays carry a 16-byte header with their mapping size. Large ones (from
   256 KiB) come straight from mmap and go back to the OS when freed or
   shrunk; glibc's malloc would keep freed heap memory after the scan (its
   mmap threshold rises as soon as one large block is freed). */
#define BIG ((size_t)1 << 18)
#define HDR 16

static void *mem_alloc(size_t bytes, int zero) {
    size_t total = bytes + HDR;
    char *base;
    size_t mapped = 0;
#ifdef __linux__
    if (total >= BIG) {
        long page = sysconf(_SC_PAGESIZE);
        mapped = (total + (size_t)page - 1) / (size_t)page * (size_t)page;
        base = mmap(NULL, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (base == MAP_FAILED) return NULL;
    } else
#endif
    {
        base = zero ? PyMem_RawCalloc(1, total) : PyMem_RawMalloc(total);
        if (!base) return NULL;
    }
    ((size_t *)base)[0] = bytes;
    ((size_t *)base)[1] = mapped;
    return base + HDR;
}

static void mem_free(void *p) {
    if (!p) return;
    char *base = (char *)p - HDR;
#ifdef __linux__
    size_t mapped = ((size_t *)base)[1];
    if (mapped) {
        munmap(base, mapped);
        return;
    }
#endif
    PyMem_RawFree(base);
}

static void *mem_realloc(void *p, size_t bytes) {
    if (!p) return mem_alloc(bytes, 0);
    char *base = (char *)p - HDR;
    size_t old = ((size_t *)base)[0], mapped = ((size_t *)base)[1];
    size_t total = bytes + HDR;
#ifdef __linux__
    if (mapped && total >= BIG) {
        long page = sysconf(_SC_PAGESIZE);
        size_t nmapped = (total + (size_t)page - 1) / (size_t)page * (size_t)page;
        char *nb = mremap(base, mapped, nmapped, MREMAP_MAYMOVE);
        if (nb == MAP_FAILED) return NULL;
        ((size_t *)nb)[0] = bytes;
        ((size_t *)nb)[1] = nmapped;
        return nb + HDR;
    }
    if (mapped || total >= BIG) {
        void *np = mem_alloc(bytes, 0);
        if (!np) return NULL;
        memcpy(np, p, old < bytes ? old : bytes);
        mem_free(p);
        return np;
    }
#endif
    (void)mapped;
    char *nb = PyMem_RawRealloc(base, total);
    if (!nb) return NULL;
    ((size_t *)nb)[0] = bytes;
    return nb + HDR;
}

/* Make room for `need` elements of `elem` bytes in *p (capacity *cap); grows by half. */
static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t ncap = *cap ? *cap + *cap / 2 : 64;
    if (ncap < need) ncap = need;
    void *np = mem_realloc(*p, ncap * elem);
    if (!np) {
        PyErr_NoMemory();
        return -1;
    }
    *p = np;
    *cap = ncap;
    return 0;
}

/* Resize *p to `cap` elements (parallel arrays sharing one capacity). */
static int resize(void **p, size_t cap, size_t elem) {
    void *np = mem_realloc(*p, (cap ? cap : 1) * elem);
    if (!np) {
        PyErr_NoMemory();
        return -1;
    }
    *p = np;
    return 0;
}

static size_t next_cap(size_t cap) { return cap ? cap + cap / 2 : 1024; }

#define GROW(arr, cap, need) grow((void **)&(arr), &(cap), (need), sizeof(*(arr)))

static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* Open addressing map: uint64 key -> uint32 value. Key 0 means empty, so
   callers never store 0 (addresses are never 0; composite keys add 1). */
typedef struct {
    uint64_t *keys;
    uint32_t *vals;
    size_t cap, used;
} Map;

static int map_grow(Map *m) {
    size_t ncap = m->cap ? m->cap * 2 : 1024;
    uint64_t *nk = mem_alloc(ncap * sizeof(uint64_t), 1);
    uint32_t *nv = mem_alloc(ncap * sizeof(uint32_t), 0);
    if (!nk || !nv) {
        mem_free(nk);
        mem_free(nv);
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        uint64_t k = m->keys[i];
        if (!k) continue;
        size_t j = mix64(k) & (ncap - 1);
        while (nk[j]) j = (j + 1) & (ncap - 1);
        nk[j] = k;
        nv[j] = m->vals[i];
    }
    mem_free(m->keys);
    mem_free(m->vals);
    m->keys = nk;
    m->vals = nv;
    m->cap = ncap;
    return 0;
}

static inline uint32_t map_get(const Map *m, uint64_t key) {
    if (!m->cap) return NONE;
    size_t mask = m->cap - 1, j = mix64(key) & mask;
    for (;;) {
        uint64_t k = m->keys[j];
        if (k == key) return m->vals[j];
        if (!k) return NONE;
        j = (j + 1) & mask;
    }
}

static int map_put(Map *m, uint64_t key, uint32_t val) {
    if ((m->used + 1) * 2 > m->cap && map_grow(m) < 0) return -1;
    size_t mask = m->cap - 1, j = mix64(key) & mask;
    for (;;) {
        uint64_t k = m->keys[j];
        if (k == key) {
            m->vals[j] = val;
            return 0;
        }
        if (!k) {
            m->keys[j] = key;
            m->vals[j] = val;
            m->used++;
            return 0;
        }
        j = (j + 1) & mask;
    }
}

static void map_free(Map *m) {
    mem_free(m->keys);
    mem_free(m->vals);
    memset(m, 0, sizeof(*m));
}

#define ADDR(o) ((uint64_t)(uintptr_t)(o))

/* The node table: open addressing over node indices (slot = index + 1), the
   address compared through the node's object pointer: 4 bytes per slot, load
   at most 0.7 (about 6 bytes per node). */
typedef struct {
    uint32_t *slots;
    size_t cap, used;
} Tab;

/* ------------------------------------------------------------------ walker state */

typedef struct {
    PyObject *tp;                   /* strong; NULL for pseudo kinds */
    PyObject *info;                 /* strong: the TypeInfo tuple (NULL: fallback) */
    PyObject *sizer_arg, *expander; /* borrowed from info */
    PyObject *name;                 /* strong */
    int mode, sizer, inline_ok;
    Py_ssize_t pre, xoff, xbytes;
    unsigned long long xmask;
} TInfo;

typedef struct {
    PyObject *obj; /* strong */
    Py_ssize_t rc; /* reference count read before we took ours */
} Child;

typedef struct {
    PyObject *obj; /* strong: the object expanded (or the expander's list); NULL for K_KIDS */
    PyObject *aux; /* strong: set iterator */
    Py_ssize_t pos;
    uint32_t owner;
    int kind;
    Child *kids; /* K_KIDS: children collected by one tp_traverse, each strong */
    size_t nkids;
} Frame;

typedef struct {
    int64_t bytes, count, bsize;
    uintptr_t baddr;
    PyObject *bobj; /* strong: the largest inline object of this (owner, type) */
    uint32_t owner, tix;
} Inline;

typedef struct {
    int64_t size;
    uintptr_t addr;
    uint32_t tix;
    PyObject *obj; /* borrowed (node table or inline table) */
} Cand;

typedef struct {
    PyObject_HEAD
    /* spec */
    PyObject *groups, *stops, *walls, *classify, *objects, *late_walls, *late;
    int check_refs, top_k, phase;
    /* A callback can switch threads: another thread must not step or release
       this walker while a step runs (release is deferred to the step's end). */
    int busy, release_pending;
    Py_ssize_t n_groups;
    double phase_s[PH_DONE + 1];
    int64_t objects_seen;
    /* node table */
    Tab tab;
    PyObject **obj; /* strong (NULL: pseudo node) */
    uint32_t *found, *tix, *last;
    int64_t *size;
    uint8_t *flags;
    size_t n, ncap;
    /* edges owner -> node */
    uint32_t *esrc, *edst;
    size_t ne, necap;
    /* seeds */
    uint32_t *seed_node, *seed_group;
    size_t nseed, seedcap;
    /* types and pseudo kinds (one index space) */
    TInfo *types;
    size_t ntypes, typecap;
    Map tmap;
    PyObject *kinds;  /* kind name -> tix */
    PyObject *pseudo; /* pseudo key -> node */
    Map omap;         /* per-object expander: address -> index in objects */
    /* inline objects, per (owner, type) */
    Inline *inl;
    size_t ninl, inlcap;
    Map imap;
    /* work */
    Frame *frames;
    size_t nframes, framecap;
    Child *cbuf;
    size_t ncbuf, cbufcap;
    int cbuf_failed;
    PyObject **deferred;
    size_t ndeferred, defcap;
    Py_ssize_t setup_g, setup_i;
    int setup_stage;
    int count_stage;
    size_t count_i;
    size_t check_i;
    uint32_t *out_node, *out_def;
    size_t nout, outcap;
    /* scc */
    uint32_t *off, *tgt, *index, *low, *comp, *order, *cstart, *tstack, *call_v, *call_e;
    size_t ncomp, cstartcap, norder, ntstack, tstackcap, ncall, callcap, callcap2, scc_v, scc_counter, ntgt;
    int csr_stage;
    size_t csr_i;
    /* labels */
    uint32_t *arena;
    size_t narena, arenacap;
    uint32_t *lab_off, *lab_len, *lab_next;
    size_t nlab, labcap;
    Map lintern; /* hash + 1 -> first label with that hash */
    Map umemo;
    uint32_t *clab;
    int64_t prop_c;
    int prop_own_done;
    uint32_t *scratch;
    size_t scratchcap;
    /* account */
    size_t acc_i, acc_inl_i;
    int acc_ready;
    int64_t *tot_bytes, *tot_count;
    uint8_t *tot_seen;
    Map bymap;
    uint32_t *by_lab, *by_tix;
    int64_t *by_bytes, *by_count;
    size_t nby, bycap;
    Cand *cands;
    uint32_t *ncands;
    /* result, built in resumable stages */
    int res_stage;
    size_t res_i;
    PyObject *r_labels, *r_totals, *r_top, *r_bytype;
    PyObject *result;
} Walker;

static inline uint32_t tab_get(const Walker *w, PyObject *o) {
    if (!w->tab.cap) return NONE;
    size_t mask = w->tab.cap - 1, j = mix64(ADDR(o)) & mask;
    for (;;) {
        uint32_t s = w->tab.slots[j];
        if (!s) return NONE;
        if (w->obj[s - 1] == o) return s - 1;
        j = (j + 1) & mask;
    }
}

static int tab_put(Walker *w, PyObject *o, uint32_t idx) {
    Tab *t = &w->tab;
    if ((t->used + 1) * 10 > t->cap * 7) {
        size_t ncap = t->cap ? t->cap * 2 : 1024;
        uint32_t *ns = mem_alloc(ncap * sizeof(uint32_t), 1);
        if (!ns) {
            PyErr_NoMemory();
            return -1;
        }
        for (size_t i = 0; i < t->cap; i++) {
            uint32_t s = t->slots[i];
            if (!s) continue;
            size_t j = mix64(ADDR(w->obj[s - 1])) & (ncap - 1);
            while (ns[j]) j = (j + 1) & (ncap - 1);
            ns[j] = s;
        }
        mem_free(t->slots);
        t->slots = ns;
        t->cap = ncap;
    }
    size_t mask = t->cap - 1, j = mix64(ADDR(o)) & mask;
    while (t->slots[j]) j = (j + 1) & mask;
    t->slots[j] = idx + 1;
    t->used++;
    return 0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* An ordinary Exception raised by a callback is the callback's problem (the
   object counts as empty); anything else (KeyboardInterrupt) propagates. */
static int swallow(void) {
    if (!PyErr_Occurred()) return 0;
    if (PyErr_ExceptionMatches(PyExc_Exception)) {
        PyErr_Clear();
        return 0;
    }
    return -1;
}

/* ------------------------------------------------------------------ types */

static uint32_t type_index(Walker *w, PyTypeObject *tp) {
    uint32_t tix = map_get(&w->tmap, ADDR(tp));
    if (tix != NONE) return tix;
    TInfo t;
    memset(&t, 0, sizeof(t));
    t.mode = M_LEAF;
    t.sizer = S_ZERO;
    t.inline_ok = 1;
    PyObject *info = PyObject_CallOneArg(w->classify, (PyObject *)tp);
    if (info == NULL) {
        if (swallow() < 0) return NONE;
    } else if (PyTuple_Check(info) && PyTuple_GET_SIZE(info) == 10) {
        int mode, sizer, inline_ok;
        Py_ssize_t pre, xoff, xbytes;
        unsigned long long xmask;
        PyObject *sarg, *exp, *name;
        if (PyArg_ParseTuple(info, "iiOnnKnOpU", &mode, &sizer, &sarg, &pre, &xoff, &xmask,
                             &xbytes, &exp, &inline_ok, &name)) {
            t.mode = mode;
            t.sizer = sizer;
            t.sizer_arg = sarg;
            t.pre = pre;
            t.xoff = xoff;
            t.xmask = xmask;
            t.xbytes = xbytes;
            t.expander = exp == Py_None ? NULL : exp;
            t.inline_ok = inline_ok;
            t.name = Py_NewRef(name);
            t.info = info;
            info = NULL;
        } else if (swallow() < 0) {
            Py_DECREF(info);
            return NONE;
        }
    }
    Py_XDECREF(info);
    if (!t.info) {
        /* The fallback name mirrors pywalker._type_label (the qualname). */
        t.mode = M_LEAF;
        t.sizer = S_ZERO;
        t.inline_ok = 1;
        t.name = PyType_GetQualName(tp);
        if (!t.name || !PyUnicode_Check(t.name)) {
            Py_XDECREF(t.name);
            PyErr_Clear();
            t.name = PyUnicode_FromString("?");
            if (!t.name) return NONE;
        }
    }
    if (GROW(w->types, w->typecap, w->ntypes + 1) < 0) {
        Py_XDECREF(t.info);
        Py_XDECREF(t.name);
        return NONE;
    }
    t.tp = Py_NewRef((PyObject *)tp);
    tix = (uint32_t)w->ntypes;
    w->types[w->ntypes++] = t;
    if (map_put(&w->tmap, ADDR(tp), tix) < 0) return NONE;
    return tix;
}

static uint32_t kind_index(Walker *w, PyObject *kind) {
    PyObject *got = PyDict_GetItemWithError(w->kinds, kind);
    if (got) return (uint32_t)PyLong_AsUnsignedLong(got);
    if (PyErr_Occurred()) return NONE;
    if (GROW(w->types, w->typecap, w->ntypes + 1) < 0) return NONE;
    TInfo *t = &w->types[w->ntypes];
    memset(t, 0, sizeof(*t));
    t->mode = M_LEAF;
    t->sizer = S_ZERO;
    t->name = Py_NewRef(kind);
    uint32_t tix = (uint32_t)w->ntypes++;
    PyObject *v = PyLong_FromUnsignedLong(tix);
    if (!v) return NONE;
    int r = PyDict_SetItem(w->kinds, kind, v);
    Py_DECREF(v);
    return r < 0 ? NONE : tix;
}

/* *out = the object's size; -1 only for an error that must propagate. */
static int size_of(PyObject *o, const TInfo *t, int64_t *out) {
    int64_t base = 0;
    PyTypeObject *tp = Py_TYPE(o);
    switch (t->sizer) {
    case S_BASIC:
        base = (int64_t)tp->tp_basicsize;
        if (tp->tp_itemsize > 0) base += (int64_t)Py_SIZE(o) * (int64_t)tp->tp_itemsize;
        break;
    case S_SIZEOF:
    case S_CALL: {
        PyObject *r = t->sizer_arg ? PyObject_CallOneArg(t->sizer_arg, o) : NULL;
        if (r == NULL) {
            if (swallow() < 0) return -1;
        } else {
            long long v = PyLong_AsLongLong(r);
            Py_DECREF(r);
            if (v == -1 && PyErr_Occurred()) {
                if (swallow() < 0) return -1;
                v = 0;
            }
            base = v;
        }
        if (t->sizer == S_CALL) {
            *out = base < 0 ? 0 : base;
            return 0;
        }
        break;
    }
    default:
        *out = 0;
        return 0;
    }
    base += t->pre;
    if (t->xbytes) {
        uintptr_t word = *(const uintptr_t *)((const char *)o + t->xoff);
        if (word & (uintptr_t)t->xmask) base += t->xbytes;
    }
    *out = base;
    return 0;
}

/* ------------------------------------------------------------------ nodes and edges */

static uint32_t new_node(Walker *w, PyObject *o, uint8_t flags) {
    if (w->n + 1 > w->ncap) {
        size_t cap = next_cap(w->ncap);
        if (resize((void **)&w->obj, cap, sizeof(PyObject *)) < 0 ||
            resize((void **)&w->found, cap, sizeof(uint32_t)) < 0 ||
            resize((void **)&w->tix, cap, sizeof(uint32_t)) < 0 ||
            resize((void **)&w->last, cap, sizeof(uint32_t)) < 0 ||
            resize((void **)&w->size, cap, sizeof(int64_t)) < 0 ||
            resize((void **)&w->flags, cap, sizeof(uint8_t)) < 0)
            return NONE;
        w->ncap = cap;
    }
    uint32_t idx = (uint32_t)w->n;
    w->obj[idx] = o;
    if (o && tab_put(w, o, idx) < 0) return NONE;
    w->n++;
    Py_XINCREF(o);
    w->found[idx] = 0;
    w->tix[idx] = 0;
    w->last[idx] = NONE;
    w->size[idx] = 0;
    w->flags[idx] = flags;
    return idx;
}

static int add_edge(Walker *w, uint32_t src, uint32_t dst) {
    if (w->ne + 1 > w->necap) {
        size_t cap = next_cap(w->necap);
        if (resize((void **)&w->esrc, cap, sizeof(uint32_t)) < 0 ||
            resize((void **)&w->edst, cap, sizeof(uint32_t)) < 0)
            return -1;
        w->necap = cap;
    }
    w->esrc[w->ne] = src;
    w->edst[w->ne] = dst;
    w->ne++;
    return 0;
}

static inline int note_ref(Walker *w, uint32_t idx, uint32_t owner) {
    w->found[idx]++;
    if (idx != owner && w->last[idx] != owner) {
        w->last[idx] = owner;
        return add_edge(w, owner, idx);
    }
    return 0;
}

/* Give a table entry its type and size (a stop or seed reached for the first time). */
static int materialise(Walker *w, uint32_t idx, PyObject *o, int *mode) {
    uint32_t tix = type_index(w, Py_TYPE(o));
    if (tix == NONE) return -1;
    w->tix[idx] = tix;
    if (size_of(o, &w->types[tix], &w->size[idx]) < 0) return -1;
    w->objects_seen++;
    if (mode) *mode = w->types[tix].mode;
    return 0;
}

/* Steals `aux`. */
static int push_frame(Walker *w, PyObject *o, PyObject *aux, uint32_t owner, int kind) {
    if (GROW(w->frames, w->framecap, w->nframes + 1) < 0) {
        Py_XDECREF(aux);
        return -1;
    }
    Frame *f = &w->frames[w->nframes++];
    f->obj = Py_XNewRef(o);
    f->aux = aux;
    f->pos = 0;
    f->owner = owner;
    f->kind = kind;
    f->kids = NULL;
    f->nkids = 0;
    return 0;
}

/* Hands the children collected in cbuf (more than KIDS_CHUNK of them) to a
   K_KIDS frame, handled CHUNK at a time: one huge tp_traverse (a deque or a
   dict subclass of millions of items) never blocks. Their counts were read
   at collection; the frame holds the strong references. */
static int defer_cbuf(Walker *w, uint32_t owner) {
    if (push_frame(w, NULL, NULL, owner, K_KIDS) < 0) return -1;
    Frame *f = &w->frames[w->nframes - 1];
    f->kids = w->cbuf;
    f->nkids = w->ncbuf;
    w->cbuf = NULL;
    w->ncbuf = w->cbufcap = 0;
    return 0;
}

static void free_frame(Frame *f) {
    Py_XDECREF(f->obj);
    Py_XDECREF(f->aux);
    if (f->kids) {
        for (size_t i = (size_t)f->pos; i < f->nkids; i++) Py_DECREF(f->kids[i].obj);
        mem_free(f->kids);
        f->kids = NULL;
    }
}

static int push(Walker *w, PyObject *o, uint32_t owner, int mode, const TInfo *t, int node) {
    if (node && map_get(&w->omap, ADDR(o)) != NONE) return push_frame(w, o, NULL, owner, K_EXPAND);
    switch (mode) {
    case M_TRAVERSE:
        return push_frame(w, o, NULL, owner, K_TRAVERSE);
    case M_SEQ:
        return push_frame(w, o, NULL, owner, K_SEQ);
    case M_SET: {
        PyObject *it = PyObject_GetIter(o);
        if (!it) return swallow();
        return push_frame(w, o, it, owner, K_SET);
    }
    case M_DICT:
        return push_frame(w, o, NULL, owner, PyDict_CheckExact(o) ? K_DICT : K_DSUB);
    case M_EXPAND:
        return t && t->expander ? push_frame(w, o, NULL, owner, K_EXPAND) : 0;
    default:
        return 0;
    }
}

/* An instance's reference to its class (a heap type visits it in tp_traverse):
   counted, never an edge. A class is shared structure; followed from every
   instance, it would carry its instances' labels into class-level state (a
   registry of all instances) and make each look held by all the others. */
#define RC_CLASS ((Py_ssize_t)-1)

static int handle_class(Walker *w, PyObject *o) {
    uint32_t idx = tab_get(w, o);
    if (idx != NONE) {
        uint8_t fl = w->flags[idx];
        if (fl & F_WALL) return 0;
        if (fl & F_UNREACHED) {
            w->flags[idx] = fl & ~F_UNREACHED;
            if (materialise(w, idx, o, NULL) < 0) return -1;
        }
        w->found[idx]++;
        return 0;
    }
    uint32_t tix = type_index(w, Py_TYPE(o));
    if (tix == NONE) return -1;
    int mode = w->types[tix].mode;
    if (mode == M_IGNORE) return 0;
    idx = new_node(w, o, 0);
    if (idx == NONE) return -1;
    w->tix[idx] = tix;
    if (size_of(o, &w->types[tix], &w->size[idx]) < 0) return -1;
    w->objects_seen++;
    w->found[idx] = 1;
    if (mode == M_STOP) {
        w->flags[idx] = F_STOP;
        return 0;
    }
    return mode != M_LEAF ? push(w, o, idx, mode, &w->types[tix], 1) : 0;
}

/* Marks the instance's own class among the children just collected for `o`
   (the last visit of it: subtype_traverse visits the type last). */
static void mark_class(Walker *w, PyObject *o, size_t from) {
    PyTypeObject *tp = Py_TYPE(o);
    if (!(tp->tp_flags & Py_TPFLAGS_HEAPTYPE)) return;
    for (size_t i = w->ncbuf; i > from; i--) {
        if (w->cbuf[i - 1].obj == (PyObject *)tp && w->cbuf[i - 1].rc != RC_CLASS) {
            w->cbuf[i - 1].rc = RC_CLASS;
            return;
        }
    }
}

/* One reference to `o` found under `owner`; `rc` was read while the referrer
   (and an expander's list, if any) held it, before the walker's own reference.
   The object is inline when rc == single: its referrer is its only holder. */
static int handle(Walker *w, PyObject *o, Py_ssize_t rc, uint32_t owner, Py_ssize_t single) {
    if (rc == RC_CLASS) return handle_class(w, o);
    /* Every table entry holds a reference of ours, so an object whose count says
       "single" cannot be in the table: no lookup (a cache miss) for it. */
    uint32_t idx = rc == single ? NONE : tab_get(w, o);
    if (idx != NONE) {
        uint8_t fl = w->flags[idx];
        if (fl & F_WALL) return 0;
        if (fl & F_UNREACHED) {
            w->flags[idx] = fl & ~F_UNREACHED;
            if (materialise(w, idx, o, NULL) < 0) return -1;
        }
        return note_ref(w, idx, owner);
    }
    uint32_t tix = type_index(w, Py_TYPE(o));
    if (tix == NONE) return -1;
    int mode = w->types[tix].mode;
    if (mode == M_IGNORE) return 0;
    int64_t size;
    if (size_of(o, &w->types[tix], &size) < 0) return -1;
    w->objects_seen++;
    if (rc == single && w->types[tix].inline_ok && mode != M_STOP) {
        uint64_t key = (((uint64_t)owner << 32) | tix) + 1;
        uint32_t ii = map_get(&w->imap, key);
        if (ii == NONE) {
            if (GROW(w->inl, w->inlcap, w->ninl + 1) < 0) return -1;
            ii = (uint32_t)w->ninl;
            if (map_put(&w->imap, key, ii) < 0) return -1;
            w->ninl++;
            Inline *e = &w->inl[ii];
            e->bytes = size;
            e->count = 1;
            e->bsize = size;
            e->baddr = (uintptr_t)o;
            e->bobj = Py_NewRef(o);
            e->owner = owner;
            e->tix = tix;
        } else {
            Inline *e = &w->inl[ii];
            e->bytes += size;
            e->count++;
            if (size > e->bsize || (size == e->bsize && (uintptr_t)o > e->baddr)) {
                e->bsize = size;
                e->baddr = (uintptr_t)o;
                Py_SETREF(e->bobj, Py_NewRef(o));
            }
        }
        return mode != M_LEAF ? push(w, o, owner, mode, &w->types[tix], 0) : 0;
    }
    idx = new_node(w, o, 0);
    if (idx == NONE) return -1;
    w->tix[idx] = tix;
    w->size[idx] = size;
    w->found[idx] = 1;
    w->last[idx] = owner;
    if (add_edge(w, owner, idx) < 0) return -1;
    if (mode == M_STOP) {
        w->flags[idx] = F_STOP;
        return 0;
    }
    return mode != M_LEAF ? push(w, o, idx, mode, &w->types[tix], 1) : 0;
}

/* ------------------------------------------------------------------ collecting children */

static int add_child(Walker *w, PyObject *o, Py_ssize_t rc, int steal) {
    if (w->ncbuf + 1 > w->cbufcap) {
        size_t cap = next_cap(w->cbufcap);
        Child *nb = mem_realloc(w->cbuf, cap * sizeof(Child));
        if (!nb) {
            if (steal) Py_DECREF(o);
            w->cbuf_failed = 1;
            return -1;
        }
        w->cbuf = nb;
        w->cbufcap = cap;
    }
    w->cbuf[w->ncbuf].rc = rc;
    w->cbuf[w->ncbuf].obj = steal ? o : Py_NewRef(o);
    w->ncbuf++;
    return 0;
}

static int visit_collect(PyObject *o, void *arg) {
    if (!o) return 0;
    return add_child((Walker *)arg, o, Py_REFCNT(o), 0);
}

static int collect_traverse(Walker *w, PyObject *o) {
    traverseproc trav = Py_TYPE(o)->tp_traverse;
    if (!trav || !PyObject_IS_GC(o)) return 0;
    w->cbuf_failed = 0;
    if (trav(o, visit_collect, w) < 0 || w->cbuf_failed) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static int collect_borrowed(Walker *w, PyObject *o) {
    if (add_child(w, o, Py_REFCNT(o), 0) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* A dict subclass: tp_traverse, plus the keys when every key is an exact str
   (a str-keyed table's traverse visits values only). */
static int collect_dict_sub(Walker *w, PyObject *d) {
    if (collect_traverse(w, d) < 0) return -1;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(d, &pos, &k, &v))
        if (!PyUnicode_CheckExact(k)) return 0;
    pos = 0;
    while (PyDict_Next(d, &pos, &k, &v))
        if (collect_borrowed(w, k) < 0) return -1;
    return 0;
}

static void drop_cbuf(Walker *w, size_t from) {
    for (size_t i = from; i < w->ncbuf; i++) Py_DECREF(w->cbuf[i].obj);
    w->ncbuf = 0;
}

static void count_ref(Walker *w, PyObject *o) {
    uint32_t idx = tab_get(w, o);
    if (idx != NONE && !(w->flags[idx] & (F_WALL | F_UNREACHED))) w->found[idx]++;
}

/* Handle (or, when count_only, just count) the collected children. */
static int process_cbuf(Walker *w, uint32_t owner, Py_ssize_t single, int count_only) {
    size_t n = w->ncbuf;
    for (size_t i = 0; i < n; i++) {
        PyObject *o = w->cbuf[i].obj;
        if (count_only) {
            count_ref(w, o);
        } else if (handle(w, o, w->cbuf[i].rc, owner, single) < 0) {
            drop_cbuf(w, i);
            return -1;
        }
        Py_DECREF(o);
    }
    w->ncbuf = 0;
    return 0;
}

static int pseudo_nodes(Walker *w, PyObject *list, uint32_t owner) {
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list); i++) {
        PyObject *e = PyList_GET_ITEM(list, i);
        if (!PyTuple_Check(e) || PyTuple_GET_SIZE(e) != 3) continue;
        PyObject *key = PyTuple_GET_ITEM(e, 0);
        long long nbytes = PyLong_AsLongLong(PyTuple_GET_ITEM(e, 1));
        if (nbytes == -1 && PyErr_Occurred()) {
            if (swallow() < 0) return -1;
            continue;
        }
        PyObject *got = PyDict_GetItemWithError(w->pseudo, key);
        uint32_t idx;
        if (got) {
            idx = (uint32_t)PyLong_AsUnsignedLong(got);
            if (nbytes > w->size[idx]) w->size[idx] = nbytes;
        } else {
            if (swallow() < 0) return -1; /* unhashable key: skipped */
            PyObject *ks = PyObject_Str(PyTuple_GET_ITEM(e, 2));
            if (!ks) {
                if (swallow() < 0) return -1;
                continue;
            }
            uint32_t tix = kind_index(w, ks);
            Py_DECREF(ks);
            if (tix == NONE) return -1;
            idx = new_node(w, NULL, 0);
            if (idx == NONE) return -1;
            w->tix[idx] = tix;
            w->size[idx] = nbytes > 0 ? nbytes : 0;
            PyObject *v = PyLong_FromUnsignedLong(idx);
            if (!v) return -1;
            int r = PyDict_SetItem(w->pseudo, key, v);
            Py_DECREF(v);
            if (r < 0) return -1;
        }
        if (idx != owner && w->last[idx] != owner) {
            w->last[idx] = owner;
            if (add_edge(w, owner, idx) < 0) return -1;
        }
    }
    return 0;
}

/* The expander for `o` (per-object first, then its type's), or NULL. */
static PyObject *expander_of(Walker *w, PyObject *o, int *err) {
    *err = 0;
    uint32_t oi = map_get(&w->omap, ADDR(o));
    if (oi != NONE && (Py_ssize_t)oi < PyList_GET_SIZE(w->objects)) {
        PyObject *pair = PyList_GET_ITEM(w->objects, oi);
        if (PyTuple_Check(pair) && PyTuple_GET_SIZE(pair) == 2) return PyTuple_GET_ITEM(pair, 1);
    }
    uint32_t tix = type_index(w, Py_TYPE(o));
    if (tix == NONE) {
        *err = 1;
        return NULL;
    }
    return w->types[tix].expander;
}

/* expander(o) as a 3-tuple, or NULL (with an exception only when it must propagate). */
static PyObject *expand(Walker *w, PyObject *o) {
    int err;
    PyObject *exp = expander_of(w, o, &err);
    if (!exp) return NULL;
    Py_INCREF(exp);
    PyObject *got = PyObject_CallOneArg(exp, o);
    Py_DECREF(exp);
    if (!got) {
        swallow();
        return NULL;
    }
    if (!PyTuple_Check(got) || PyTuple_GET_SIZE(got) != 3) {
        Py_DECREF(got);
        return NULL;
    }
    return got;
}

static PyObject *part(PyObject *got, int i) {
    PyObject *p = PyTuple_GET_ITEM(got, i);
    return PyList_CheckExact(p) ? p : NULL;
}

/* A follow part that is a callable `more(pos) -> (list, next_pos)`: a source
   read in chunks (the items of a huge object array); next_pos < 0 at the end. */
static PyObject *more_part(PyObject *got) {
    PyObject *p = PyTuple_GET_ITEM(got, 0);
    return !PyList_CheckExact(p) && p != Py_None && PyCallable_Check(p) ? p : NULL;
}

/* One chunk of a `more` source: *list (new reference, or NULL at the end) and *next. */
static int more_chunk(PyObject *more, Py_ssize_t pos, PyObject **list, Py_ssize_t *next) {
    *list = NULL;
    *next = -1;
    PyObject *arg = PyLong_FromSsize_t(pos);
    if (!arg) return -1;
    PyObject *got = PyObject_CallOneArg(more, arg);
    Py_DECREF(arg);
    if (!got) return swallow();
    if (PyTuple_Check(got) && PyTuple_GET_SIZE(got) == 2 && PyList_CheckExact(PyTuple_GET_ITEM(got, 0))) {
        Py_ssize_t n = PyLong_AsSsize_t(PyTuple_GET_ITEM(got, 1));
        if (n == -1 && PyErr_Occurred()) {
            Py_DECREF(got);
            return swallow();
        }
        *list = Py_NewRef(PyTuple_GET_ITEM(got, 0));
        *next = n;
    }
    Py_DECREF(got);
    return 0;
}

/* Every reference `o` holds, as the walk finds them, into cbuf (count phase). */
static int collect_refs(Walker *w, PyObject *o) {
    uint32_t tix;
    int mode;
    if (map_get(&w->omap, ADDR(o)) != NONE) {
        mode = M_EXPAND;
    } else {
        tix = type_index(w, Py_TYPE(o));
        if (tix == NONE) return -1;
        mode = w->types[tix].mode;
    }
    if (mode == M_LEAF || mode == M_IGNORE) return 0;
    if (mode == M_DICT) {
        if (!PyDict_CheckExact(o)) return collect_dict_sub(w, o);
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(o, &pos, &k, &v))
            if (collect_borrowed(w, k) < 0) return -1;
        pos = 0;
        while (PyDict_Next(o, &pos, &k, &v))
            if (collect_borrowed(w, v) < 0) return -1;
        return 0;
    }
    if (mode != M_EXPAND) return collect_traverse(w, o);
    PyObject *got = expand(w, o);
    if (!got) return PyErr_Occurred() ? -1 : 0;
    for (int p = 0; p < 2; p++) {
        PyObject *lst = part(got, p);
        if (!lst) continue;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(lst); i++)
            if (collect_borrowed(w, PyList_GET_ITEM(lst, i)) < 0) {
                Py_DECREF(got);
                return -1;
            }
    }
    PyObject *more = more_part(got);
    Py_ssize_t pos = 0;
    while (more && pos >= 0) {
        PyObject *lst;
        if (more_chunk(more, pos, &lst, &pos) < 0) {
            Py_DECREF(got);
            return -1;
        }
        if (!lst) break;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(lst); i++)
            if (collect_borrowed(w, PyList_GET_ITEM(lst, i)) < 0) {
                Py_DECREF(lst);
                Py_DECREF(got);
                return -1;
            }
        Py_DECREF(lst);
    }
    Py_DECREF(got);
    return 0;
}

/* ------------------------------------------------------------------ setup */

static int seed(Walker *w, PyObject *o, uint32_t g) {
    uint32_t idx = tab_get(w, o);
    if (idx == NONE) {
        idx = new_node(w, o, F_SEED);
        if (idx == NONE) return -1;
        int mode;
        if (materialise(w, idx, o, &mode) < 0) return -1;
        if (mode == M_STOP)
            w->flags[idx] |= F_STOP;
        else if (mode != M_LEAF && mode != M_IGNORE &&
                 push(w, o, idx, mode, &w->types[w->tix[idx]], 1) < 0)
            return -1;
    } else {
        uint8_t fl = w->flags[idx];
        if (fl & F_WALL) return 0;
        if (fl & F_UNREACHED) {
            w->flags[idx] = fl & ~F_UNREACHED;
            if (materialise(w, idx, o, NULL) < 0) return -1;
        }
        w->flags[idx] |= F_SEED;
    }
    if (w->nseed + 1 > w->seedcap) {
        size_t cap = next_cap(w->seedcap);
        if (resize((void **)&w->seed_node, cap, sizeof(uint32_t)) < 0 ||
            resize((void **)&w->seed_group, cap, sizeof(uint32_t)) < 0)
            return -1;
        w->seedcap = cap;
    }
    w->seed_node[w->nseed] = idx;
    w->seed_group[w->nseed] = g;
    w->nseed++;
    return 0;
}

static int register_plain(Walker *w, PyObject *o, uint8_t flags) {
    if (tab_get(w, o) != NONE) return 0;
    return new_node(w, o, flags) == NONE ? -1 : 0;
}

/* The spec's own containers and the walls (as pywalker: spec_containers + walls). */
static int register_walls(Walker *w) {
    if (register_plain(w, w->groups, F_WALL) < 0) return -1;
    for (Py_ssize_t g = 0; g < PyList_GET_SIZE(w->groups); g++)
        if (register_plain(w, PyList_GET_ITEM(w->groups, g), F_WALL) < 0) return -1;
    if (register_plain(w, w->stops, F_WALL) < 0 || register_plain(w, w->walls, F_WALL) < 0 ||
        register_plain(w, w->objects, F_WALL) < 0)
        return -1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(w->objects); i++) {
        PyObject *pair = PyList_GET_ITEM(w->objects, i);
        if (register_plain(w, pair, F_WALL) < 0) return -1;
        if (PyTuple_Check(pair) && PyTuple_GET_SIZE(pair) == 2) {
            uint64_t key = ADDR(PyTuple_GET_ITEM(pair, 0));
            if (map_get(&w->omap, key) == NONE && map_put(&w->omap, key, (uint32_t)i) < 0) return -1;
        }
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(w->walls); i++)
        if (register_plain(w, PyList_GET_ITEM(w->walls, i), F_WALL) < 0) return -1;
    return 0;
}

static int phase_setup(Walker *w, double deadline) {
    if (w->setup_stage == 0) {
        if (register_walls(w) < 0) return -1;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(w->stops); i++)
            if (register_plain(w, PyList_GET_ITEM(w->stops, i), F_STOP | F_UNREACHED) < 0) return -1;
        w->setup_stage = 1;
        w->setup_g = 0;
        w->setup_i = 0;
    }
    int tick = 0;
    while (w->setup_g < PyList_GET_SIZE(w->groups)) {
        PyObject *seeds = PyList_GET_ITEM(w->groups, w->setup_g);
        if (!PyList_Check(seeds) || w->setup_i >= PyList_GET_SIZE(seeds)) {
            w->setup_g++;
            w->setup_i = 0;
            continue;
        }
        PyObject *o = Py_NewRef(PyList_GET_ITEM(seeds, w->setup_i));
        w->setup_i++;
        int r = seed(w, o, (uint32_t)w->setup_g);
        Py_DECREF(o);
        if (r < 0) return -1;
        if (!(++tick & 255) && now_s() >= deadline) return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------ walk */

static void pop_frame(Walker *w, size_t fi) {
    Frame f = w->frames[fi];
    w->frames[fi] = w->frames[w->nframes - 1];
    w->nframes--;
    free_frame(&f);
}

/* Work on the top frame: at most CHUNK references. */
static int walk_frame(Walker *w) {
    size_t fi = w->nframes - 1;
    Frame f = w->frames[fi];
    Py_ssize_t single = 1;
    int r = 0;
    switch (f.kind) {
    case K_TRAVERSE:
    case K_DSUB:
        Py_INCREF(f.obj);
        pop_frame(w, fi);
        r = f.kind == K_TRAVERSE ? collect_traverse(w, f.obj) : collect_dict_sub(w, f.obj);
        if (r == 0) mark_class(w, f.obj, 0);
        Py_DECREF(f.obj);
        if (r == 0 && w->ncbuf > KIDS_CHUNK) return defer_cbuf(w, f.owner);
        break;
    case K_KIDS: {
        /* Children of one huge tp_traverse, CHUNK at a time (counts read at collection). */
        size_t end = (size_t)f.pos + CHUNK < f.nkids ? (size_t)f.pos + CHUNK : f.nkids;
        Child *kids = f.kids;
        size_t n = f.nkids;
        if (end >= n) {
            w->frames[fi].kids = NULL; /* this call owns the rest of the array now */
            pop_frame(w, fi);
        } else {
            w->frames[fi].pos = (Py_ssize_t)end;
        }
        for (size_t i = (size_t)f.pos; i < end; i++) {
            PyObject *o = kids[i].obj;
            if (r == 0 && handle(w, o, kids[i].rc, f.owner, 1) < 0) r = -1;
            Py_DECREF(o);
        }
        if (end >= n) mem_free(kids);
        return r;
    }
    case K_MORE: {
        /* An expander's chunked source: one chunk per call, each item held by the
           chunk's list and by the referrer (an object array) when single. */
        PyObject *more = Py_NewRef(f.obj);
        PyObject *lst;
        Py_ssize_t next;
        r = more_chunk(more, f.pos, &lst, &next);
        Py_DECREF(more);
        fi = w->nframes - 1; /* the callable ran Python code; frames may have moved */
        if (r < 0 || !lst || next < 0 || next <= f.pos)
            pop_frame(w, fi);
        else
            w->frames[fi].pos = next;
        if (r < 0 || !lst) return r;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(lst) && r == 0; i++)
            r = collect_borrowed(w, PyList_GET_ITEM(lst, i));
        if (r == 0) r = process_cbuf(w, f.owner, 2, 0);
        Py_DECREF(lst);
        if (r < 0) drop_cbuf(w, 0);
        return r;
    }
    case K_SEQ:
    case K_LIST: {
        int is_list = PyList_Check(f.obj);
        Py_ssize_t size = is_list ? PyList_GET_SIZE(f.obj) : PyTuple_GET_SIZE(f.obj);
        Py_ssize_t end = f.pos + CHUNK < size ? f.pos + CHUNK : size;
        /* An expander's list holds one reference of its own. */
        single = f.kind == K_LIST ? 2 : 1;
        PyObject *keep = Py_NewRef(f.obj);
        for (Py_ssize_t i = f.pos; i < end && r == 0; i++) {
            if (is_list && i >= PyList_GET_SIZE(f.obj)) break; /* shrank between steps */
            PyObject *it = is_list ? PyList_GET_ITEM(f.obj, i) : PyTuple_GET_ITEM(f.obj, i);
            if (it) r = collect_borrowed(w, it);
        }
        if (end >= size)
            pop_frame(w, fi);
        else
            w->frames[fi].pos = end;
        if (r == 0) r = process_cbuf(w, f.owner, single, 0);
        Py_DECREF(keep); /* after: the list's own references must be there while handled */
        if (r < 0) drop_cbuf(w, 0);
        return r;
    }
    case K_DICT: {
        Py_ssize_t pos = f.pos;
        PyObject *k, *v;
        int n = 0, more;
        while ((more = PyDict_Next(f.obj, &pos, &k, &v))) {
            if (collect_borrowed(w, k) < 0 || collect_borrowed(w, v) < 0) {
                r = -1;
                break;
            }
            if (++n >= CHUNK) break;
        }
        if (r == 0 && more && n >= CHUNK)
            w->frames[fi].pos = pos;
        else
            pop_frame(w, fi);
        break;
    }
    case K_SET: {
        int n = 0, done = 0;
        while (n < CHUNK) {
            PyObject *it = PyIter_Next(f.aux);
            if (!it) {
                if (swallow() < 0) r = -1; /* changed size between steps: approximate */
                done = 1;
                break;
            }
            /* A new reference from the iterator: the count is one above traverse's. */
            if (add_child(w, it, Py_REFCNT(it) - 1, 1) < 0) {
                PyErr_NoMemory();
                r = -1;
                break;
            }
            n++;
        }
        if (done || r < 0) pop_frame(w, fi);
        break;
    }
    case K_EXPAND: {
        PyObject *o = Py_NewRef(f.obj);
        pop_frame(w, fi);
        PyObject *got = expand(w, o);
        Py_DECREF(o);
        if (!got) return PyErr_Occurred() ? -1 : 0;
        PyObject *follow = part(got, 0), *count = part(got, 1), *pseudo = part(got, 2);
        PyObject *more = more_part(got);
        if (more) r = push_frame(w, more, NULL, f.owner, K_MORE);
        if (count) {
            for (Py_ssize_t i = 0; i < PyList_GET_SIZE(count) && r == 0; i++) {
                r = GROW(w->deferred, w->defcap, w->ndeferred + 1);
                if (r == 0) w->deferred[w->ndeferred++] = Py_NewRef(PyList_GET_ITEM(count, i));
            }
        }
        if (r == 0 && pseudo) r = pseudo_nodes(w, pseudo, f.owner);
        if (r == 0 && follow && PyList_GET_SIZE(follow)) {
            if (PyList_GET_SIZE(follow) > CHUNK) {
                r = push_frame(w, follow, NULL, f.owner, K_LIST);
            } else {
                for (Py_ssize_t i = 0; i < PyList_GET_SIZE(follow) && r == 0; i++)
                    r = collect_borrowed(w, PyList_GET_ITEM(follow, i));
                if (r == 0) r = process_cbuf(w, f.owner, 2, 0);
            }
        }
        Py_DECREF(got);
        if (r < 0) drop_cbuf(w, 0);
        return r;
    }
    }
    if (r < 0) {
        drop_cbuf(w, 0);
        return -1;
    }
    return process_cbuf(w, f.owner, single, 0);
}

static int phase_walk(Walker *w, double deadline) {
    /* The clock is read every ~2048 references handled (a frame handles up
       to CHUNK), so a step overruns its deadline by a few microseconds. */
    int64_t next_check = w->objects_seen + 2048;
    int frames = 0;
    while (w->nframes) {
        if (walk_frame(w) < 0) return -1;
        if (w->objects_seen >= next_check || !(++frames & 63)) {
            next_check = w->objects_seen + 2048;
            if (PyErr_CheckSignals() < 0) return -1;
            if (now_s() >= deadline) return 0;
        }
    }
    return 1;
}

/* ------------------------------------------------------------------ count */

static int phase_count(Walker *w, double deadline) {
    if (w->count_stage == 0) {
        Py_CLEAR(w->late);
        if (w->late_walls != Py_None) {
            PyObject *got = PyObject_CallNoArgs(w->late_walls);
            if (!got) {
                if (swallow() < 0) return -1;
            } else {
                w->late = PySequence_List(got);
                Py_DECREF(got);
                if (!w->late && swallow() < 0) return -1;
            }
        }
        if (w->late) {
            for (Py_ssize_t i = 0; i < PyList_GET_SIZE(w->late); i++) {
                PyObject *o = PyList_GET_ITEM(w->late, i);
                if (tab_get(w, o) != NONE) continue;
                if (collect_refs(w, o) < 0 || process_cbuf(w, 0, 1, 1) < 0) {
                    drop_cbuf(w, 0);
                    return -1;
                }
            }
        }
        w->count_stage = 1;
        w->count_i = 0;
    }
    if (w->count_stage == 1) {
        int tick = 0;
        for (; w->count_i < w->n; w->count_i++) {
            uint8_t fl = w->flags[w->count_i];
            PyObject *o = w->obj[w->count_i];
            if (!o || !(fl & (F_WALL | F_STOP))) continue; /* a stop counts, reached or not */
            Py_INCREF(o);
            int r = collect_refs(w, o);
            Py_DECREF(o);
            if (r < 0 || process_cbuf(w, 0, 1, 1) < 0) {
                drop_cbuf(w, 0);
                return -1;
            }
            if (!(++tick & 63) && now_s() >= deadline) {
                w->count_i++;
                return 0;
            }
        }
        w->count_stage = 2;
    }
    for (size_t i = 0; i < w->ndeferred; i++) {
        count_ref(w, w->deferred[i]);
        Py_DECREF(w->deferred[i]);
    }
    w->ndeferred = 0;
    return 1;
}

/* ------------------------------------------------------------------ check */

static int exempt(PyObject *o) {
    if (PyUnicode_CheckExact(o)) return PyUnicode_CHECK_INTERNED(o) != 0;
    if (PyType_Check(o)) return !(((PyTypeObject *)o)->tp_flags & Py_TPFLAGS_HEAPTYPE);
    return 0;
}

static int phase_check(Walker *w, double deadline) {
    if (!w->check_refs) return 1;
    while (w->check_i < w->n) {
        size_t stop = w->check_i + 4096 < w->n ? w->check_i + 4096 : w->n;
        for (size_t i = w->check_i; i < stop; i++) {
            PyObject *o = w->obj[i];
            if (!o || w->flags[i] & (F_WALL | F_UNREACHED)) continue;
            Py_ssize_t rc = Py_REFCNT(o);
            if (rc >= IMMORTAL) continue;
            Py_ssize_t own = 1;
            if (PyType_Check(o) && map_get(&w->tmap, ADDR(o)) != NONE) own = 2;
            Py_ssize_t deficit = rc - (Py_ssize_t)w->found[i] - own;
            if (deficit > 0 && !exempt(o)) {
                w->flags[i] |= F_OUTSIDE;
                if (w->nout + 1 > w->outcap) {
                    size_t cap = next_cap(w->outcap);
                    if (resize((void **)&w->out_node, cap, sizeof(uint32_t)) < 0 ||
                        resize((void **)&w->out_def, cap, sizeof(uint32_t)) < 0)
                        return -1;
                    w->outcap = cap;
                }
                w->out_node[w->nout] = (uint32_t)i;
                w->out_def[w->nout] = (uint32_t)deficit;
                w->nout++;
            }
        }
        w->check_i = stop;
        if (now_s() >= deadline) return w->check_i >= w->n;
    }
    return 1;
}

/* ------------------------------------------------------------------ scc */

/* The CSR graph of the edges, in resumable stages (count, prefix, fill). */
static int build_csr(Walker *w, double deadline) {
    size_t n = w->n;
    if (w->csr_stage == 0) {
        w->off = mem_alloc((n + 1) * sizeof(uint32_t), 1);
        w->tgt = mem_alloc((w->ne ? w->ne : 1) * sizeof(uint32_t), 0);
        if (!w->off || !w->tgt) {
            PyErr_NoMemory();
            return -1;
        }
        w->csr_i = 0;
        w->csr_stage = 1;
    }
    if (w->csr_stage == 1) {
        while (w->csr_i < w->ne) {
            size_t stop = w->csr_i + (1 << 20) < w->ne ? w->csr_i + (1 << 20) : w->ne;
            for (size_t e = w->csr_i; e < stop; e++) w->off[w->esrc[e] + 1]++;
            w->csr_i = stop;
            if (now_s() >= deadline) return 0;
        }
        for (size_t i = 0; i < n; i++) w->off[i + 1] += w->off[i];
        /* `last` (edge dedupe) is dead: it is the fill cursor, then Tarjan's
           index; `found` (reference counts, checked) becomes lowlink. */
        for (size_t i = 0; i < n; i++) w->last[i] = w->off[i];
        w->csr_i = 0;
        w->csr_stage = 2;
        if (now_s() >= deadline) return 0;
    }
    if (w->csr_stage == 2) {
        uint32_t *fill = w->last;
        while (w->csr_i < w->ne) {
            size_t stop = w->csr_i + (1 << 20) < w->ne ? w->csr_i + (1 << 20) : w->ne;
            for (size_t e = w->csr_i; e < stop; e++) w->tgt[fill[w->esrc[e]]++] = w->edst[e];
            w->csr_i = stop;
            if (now_s() >= deadline) return 0;
        }
        w->ntgt = w->ne;
        mem_free(w->esrc);
        mem_free(w->edst);
        w->esrc = w->edst = NULL;
        w->ne = w->necap = 0;
        w->index = w->last;
        w->low = w->found;
        w->last = w->found = NULL;
        w->comp = mem_alloc((n ? n : 1) * sizeof(uint32_t), 0);
        w->order = mem_alloc((n ? n : 1) * sizeof(uint32_t), 0);
        if (!w->comp || !w->order) {
            PyErr_NoMemory();
            return -1;
        }
        memset(w->index, 0xff, n * sizeof(uint32_t));
        memset(w->comp, 0xff, n * sizeof(uint32_t));
        w->csr_stage = 3;
    }
    return 1;
}

static int scc_push(Walker *w, uint32_t x) {
    if (GROW(w->tstack, w->tstackcap, w->ntstack + 1) < 0 || GROW(w->call_v, w->callcap, w->ncall + 1) < 0)
        return -1;
    size_t callcap = w->callcap2;
    if (GROW(w->call_e, callcap, w->ncall + 1) < 0) return -1;
    w->callcap2 = callcap;
    w->index[x] = w->low[x] = (uint32_t)w->scc_counter++;
    w->tstack[w->ntstack++] = x;
    w->call_v[w->ncall] = x;
    w->call_e[w->ncall] = w->off[x];
    w->ncall++;
    return 0;
}

static int phase_scc(Walker *w, double deadline) {
    if (w->csr_stage < 3) {
        int r = build_csr(w, deadline);
        if (r <= 0) return r;
    }
    size_t n = w->n;
    unsigned steps = 0;
    for (;;) {
        if (!w->ncall) {
            size_t v = w->scc_v;
            while (v < n && (w->index[v] != NONE || w->flags[v] & (F_WALL | F_UNREACHED))) v++;
            w->scc_v = v;
            if (v >= n) return 1;
            if (scc_push(w, (uint32_t)v) < 0) return -1;
        }
        size_t top = w->ncall - 1;
        uint32_t v = w->call_v[top], ei = w->call_e[top], end = w->off[v + 1];
        int descended = 0;
        while (ei < end) {
            uint32_t x = w->tgt[ei++];
            if (w->index[x] == NONE) {
                w->call_e[top] = ei;
                if (scc_push(w, x) < 0) return -1;
                descended = 1;
                break;
            }
            if (w->comp[x] == NONE && w->index[x] < w->low[v]) w->low[v] = w->index[x];
        }
        if (!descended) {
            w->ncall--;
            if (w->low[v] == w->index[v]) {
                if (GROW(w->cstart, w->cstartcap, w->ncomp + 1) < 0) return -1;
                uint32_t c = (uint32_t)w->ncomp++;
                w->cstart[c] = (uint32_t)w->norder;
                for (;;) {
                    uint32_t x = w->tstack[--w->ntstack];
                    w->comp[x] = c;
                    w->order[w->norder++] = x;
                    if (x == v) break;
                }
            }
            if (w->ncall) {
                uint32_t u = w->call_v[w->ncall - 1];
                if (w->low[v] < w->low[u]) w->low[u] = w->low[v];
            }
        }
        if (!(++steps & 1023) && now_s() >= deadline) return 0;
    }
}

/* ------------------------------------------------------------------ labels */

static uint64_t hash_set(const uint32_t *a, size_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
    for (size_t i = 0; i < n; i++) h = mix64(h ^ (a[i] + 0x9e3779b97f4a7c15ULL));
    return h ? h : 1;
}

/* The label id of the sorted set a[0..n) (interned). */
static uint32_t intern(Walker *w, const uint32_t *a, size_t n) {
    uint64_t h = hash_set(a, n);
    uint32_t lid = map_get(&w->lintern, h);
    for (uint32_t l = lid; l != NONE; l = w->lab_next[l]) {
        if (w->lab_len[l] == n && (n == 0 || !memcmp(w->arena + w->lab_off[l], a, n * sizeof(uint32_t))))
            return l;
    }
    if (w->nlab + 1 > w->labcap) {
        size_t cap = next_cap(w->labcap);
        if (resize((void **)&w->lab_off, cap, sizeof(uint32_t)) < 0 ||
            resize((void **)&w->lab_len, cap, sizeof(uint32_t)) < 0 ||
            resize((void **)&w->lab_next, cap, sizeof(uint32_t)) < 0)
            return NONE;
        w->labcap = cap;
    }
    /* `a` may point into the scratch buffer, never into the arena. */
    if (GROW(w->arena, w->arenacap, w->narena + n) < 0) return NONE;
    uint32_t l = (uint32_t)w->nlab++;
    w->lab_off[l] = (uint32_t)w->narena;
    w->lab_len[l] = (uint32_t)n;
    if (n) memcpy(w->arena + w->narena, a, n * sizeof(uint32_t));
    w->narena += n;
    w->lab_next[l] = lid;
    if (map_put(&w->lintern, h, l) < 0) return NONE;
    return l;
}

static uint32_t label_union(Walker *w, uint32_t a, uint32_t b) {
    if (a == b || b == 0) return a;
    if (a == 0) return b;
    uint64_t key = ((a < b ? (uint64_t)a << 32 | b : (uint64_t)b << 32 | a)) + 1;
    uint32_t c = map_get(&w->umemo, key);
    if (c != NONE) return c;
    size_t na = w->lab_len[a], nb = w->lab_len[b];
    if (GROW(w->scratch, w->scratchcap, na + nb) < 0) return NONE;
    const uint32_t *x = w->arena + w->lab_off[a], *y = w->arena + w->lab_off[b];
    size_t i = 0, j = 0, k = 0;
    while (i < na && j < nb) {
        if (x[i] < y[j])
            w->scratch[k++] = x[i++];
        else if (y[j] < x[i])
            w->scratch[k++] = y[j++];
        else {
            w->scratch[k++] = x[i++];
            j++;
        }
    }
    while (i < na) w->scratch[k++] = x[i++];
    while (j < nb) w->scratch[k++] = y[j++];
    c = intern(w, w->scratch, k);
    if (c == NONE || map_put(&w->umemo, key, c) < 0) return NONE;
    return c;
}

static int phase_propagate(Walker *w, double deadline) {
    uint32_t *comp = w->comp;
    if (!w->prop_own_done) {
        if (w->nlab == 0 && intern(w, NULL, 0) == NONE) return -1; /* label 0: the empty set */
        w->clab = mem_alloc((w->ncomp ? w->ncomp : 1) * sizeof(uint32_t), 1);
        if (!w->clab) {
            PyErr_NoMemory();
            return -1;
        }
        for (size_t s = 0; s < w->nseed; s++) {
            uint32_t c = comp[w->seed_node[s]];
            if (c == NONE) continue;
            uint32_t g = w->seed_group[s];
            uint32_t single = intern(w, &g, 1);
            uint32_t u = single == NONE ? NONE : label_union(w, w->clab[c], single);
            if (u == NONE) return -1;
            w->clab[c] = u;
        }
        uint32_t og = (uint32_t)w->n_groups;
        uint32_t osingle = intern(w, &og, 1);
        if (osingle == NONE) return -1;
        for (size_t i = 0; i < w->nout; i++) {
            uint32_t c = comp[w->out_node[i]];
            if (c == NONE) continue;
            uint32_t u = label_union(w, w->clab[c], osingle);
            if (u == NONE) return -1;
            w->clab[c] = u;
        }
        w->prop_own_done = 1;
        w->prop_c = (int64_t)w->ncomp - 1;
    }
    unsigned tick = 0;
    while (w->prop_c >= 0) {
        uint32_t c = (uint32_t)w->prop_c;
        uint32_t lab = w->clab[c];
        if (lab) {
            size_t end = c + 1 < w->ncomp ? w->cstart[c + 1] : w->norder;
            for (size_t j = w->cstart[c]; j < end; j++) {
                uint32_t v = w->order[j];
                for (uint32_t e = w->off[v]; e < w->off[v + 1]; e++) {
                    uint32_t c2 = comp[w->tgt[e]];
                    if (c2 != c && w->clab[c2] != lab) {
                        uint32_t u = label_union(w, w->clab[c2], lab);
                        if (u == NONE) return -1;
                        w->clab[c2] = u;
                    }
                }
            }
        }
        w->prop_c--;
        if (!(++tick & 255) && now_s() >= deadline) return w->prop_c < 0;
    }
    return 1;
}

/* ------------------------------------------------------------------ account */

static int by_add(Walker *w, uint32_t lab, uint32_t tix, int64_t bytes, int64_t count) {
    w->tot_bytes[lab] += bytes;
    w->tot_count[lab] += count;
    w->tot_seen[lab] = 1;
    uint64_t key = (((uint64_t)lab << 32) | tix) + 1;
    uint32_t i = map_get(&w->bymap, key);
    if (i == NONE) {
        if (w->nby + 1 > w->bycap) {
            size_t cap = next_cap(w->bycap);
            if (resize((void **)&w->by_lab, cap, sizeof(uint32_t)) < 0 ||
                resize((void **)&w->by_tix, cap, sizeof(uint32_t)) < 0 ||
                resize((void **)&w->by_bytes, cap, sizeof(int64_t)) < 0 ||
                resize((void **)&w->by_count, cap, sizeof(int64_t)) < 0)
                return -1;
            w->bycap = cap;
        }
        i = (uint32_t)w->nby++;
        if (map_put(&w->bymap, key, i) < 0) return -1;
        w->by_lab[i] = lab;
        w->by_tix[i] = tix;
        w->by_bytes[i] = 0;
        w->by_count[i] = 0;
    }
    w->by_bytes[i] += bytes;
    w->by_count[i] += count;
    return 0;
}

static void cand_add(Walker *w, uint32_t lab, int64_t size, uintptr_t addr, uint32_t tix, PyObject *o) {
    int k = w->top_k;
    if (k <= 0) return;
    Cand *c = w->cands + (size_t)lab * (size_t)k;
    uint32_t n = w->ncands[lab];
    if (n == (uint32_t)k) {
        Cand *worst = &c[k - 1];
        if (size < worst->size || (size == worst->size && addr <= worst->addr)) return;
        n--;
    }
    uint32_t pos = n;
    while (pos > 0 && (c[pos - 1].size < size || (c[pos - 1].size == size && c[pos - 1].addr < addr))) {
        c[pos] = c[pos - 1];
        pos--;
    }
    c[pos].size = size;
    c[pos].addr = addr;
    c[pos].tix = tix;
    c[pos].obj = o;
    w->ncands[lab] = n + 1;
}

static int phase_account(Walker *w, double deadline) {
    if (!w->acc_ready) {
        size_t nl = w->nlab ? w->nlab : 1;
        w->tot_bytes = mem_alloc(nl * sizeof(int64_t), 1);
        w->tot_count = mem_alloc(nl * sizeof(int64_t), 1);
        w->tot_seen = mem_alloc(nl, 1);
        w->ncands = mem_alloc(nl * sizeof(uint32_t), 1);
        w->cands = mem_alloc(nl * (size_t)(w->top_k > 0 ? w->top_k : 1) * sizeof(Cand), 1);
        if (!w->tot_bytes || !w->tot_count || !w->tot_seen || !w->ncands || !w->cands) {
            PyErr_NoMemory();
            return -1;
        }
        w->acc_ready = 1;
    }
    while (w->acc_i < w->n) {
        size_t stop = w->acc_i + 4096 < w->n ? w->acc_i + 4096 : w->n;
        for (size_t j = w->acc_i; j < stop; j++) {
            if (w->flags[j] & (F_WALL | F_UNREACHED)) continue;
            uint32_t c = w->comp[j];
            if (c == NONE) continue;
            uint32_t lab = w->clab[c];
            if (!lab) continue;
            if (by_add(w, lab, w->tix[j], w->size[j], 1) < 0) return -1;
            if (w->obj[j]) cand_add(w, lab, w->size[j], (uintptr_t)w->obj[j], w->tix[j], w->obj[j]);
        }
        w->acc_i = stop;
        if (now_s() >= deadline) return 0;
    }
    while (w->acc_inl_i < w->ninl) {
        Inline *e = &w->inl[w->acc_inl_i++];
        uint32_t c = w->comp[e->owner];
        uint32_t lab = c == NONE ? 0 : w->clab[c];
        if (!lab) continue;
        if (by_add(w, lab, e->tix, e->bytes, e->count) < 0) return -1;
        cand_add(w, lab, e->bsize, e->baddr, e->tix, e->bobj);
        if (!(w->acc_inl_i & 1023) && now_s() >= deadline) return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------ result */

static int set_item_ii(PyObject *d, long long k, PyObject *v) {
    if (!v) return -1;
    PyObject *key = PyLong_FromLongLong(k);
    if (!key) {
        Py_DECREF(v);
        return -1;
    }
    int r = PyDict_SetItem(d, key, v);
    Py_DECREF(key);
    Py_DECREF(v);
    return r;
}

/* Outside entries, largest first (ties: higher address first), as pywalker. */
static int out_before(const Walker *w, uint32_t x, uint32_t y) {
    int64_t sx = w->size[w->out_node[x]], sy = w->size[w->out_node[y]];
    if (sx != sy) return sx > sy;
    return (uintptr_t)w->obj[w->out_node[x]] > (uintptr_t)w->obj[w->out_node[y]];
}

static void sort_out(const Walker *w, uint32_t *a, uint32_t *tmp, size_t n) {
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) tmp[k++] = out_before(w, a[j], a[i]) ? a[j++] : a[i++];
            while (i < mid) tmp[k++] = a[i++];
            while (j < hi) tmp[k++] = a[j++];
        }
        memcpy(a, tmp, n * sizeof(uint32_t));
    }
}

static PyObject *build_result(Walker *w);

/* Labels, totals and largest objects, then the per-type table, in chunks;
   then the rest (names, outside objects, counters) at once. */
static int phase_result(Walker *w, double deadline) {
    if (w->res_stage == 0) {
        w->r_labels = PyDict_New();
        w->r_totals = PyDict_New();
        w->r_top = PyDict_New();
        w->r_bytype = PyDict_New();
        if (!w->r_labels || !w->r_totals || !w->r_top || !w->r_bytype) return -1;
        w->res_stage = 1;
        w->res_i = 0;
    }
    if (w->res_stage == 1) {
        while (w->res_i < w->nlab) {
            size_t l = w->res_i++;
            if (w->tot_seen[l]) {
                /* Labels are packed (offset, length) into the arena, decoded on
                   demand: a library-side label can hold hundreds of groups. */
                if (set_item_ii(w->r_labels, (long long)l, Py_BuildValue("(II)", w->lab_off[l], w->lab_len[l])) < 0)
                    return -1;
                if (set_item_ii(w->r_totals, (long long)l,
                                Py_BuildValue("(LL)", (long long)w->tot_bytes[l], (long long)w->tot_count[l])) < 0)
                    return -1;
                if (w->ncands[l]) {
                    PyObject *lst = PyList_New(w->ncands[l]);
                    if (!lst) return -1;
                    for (uint32_t i = 0; i < w->ncands[l]; i++) {
                        Cand *c = &w->cands[l * (size_t)w->top_k + i];
                        PyObject *e = Py_BuildValue("(LIO)", (long long)c->size, c->tix, c->obj);
                        if (!e) {
                            Py_DECREF(lst);
                            return -1;
                        }
                        PyList_SET_ITEM(lst, i, e);
                    }
                    if (set_item_ii(w->r_top, (long long)l, lst) < 0) return -1;
                }
            }
            if (!(w->res_i & 1023) && now_s() >= deadline) return 0;
        }
        w->res_stage = 2;
        w->res_i = 0;
    }
    if (w->res_stage == 2) {
        while (w->res_i < w->nby) {
            size_t i = w->res_i++;
            PyObject *key = PyLong_FromUnsignedLong(w->by_lab[i]);
            if (!key) return -1;
            PyObject *d = PyDict_GetItemWithError(w->r_bytype, key);
            if (!d) {
                if (PyErr_Occurred() || !(d = PyDict_New()) || PyDict_SetItem(w->r_bytype, key, d) < 0) {
                    Py_XDECREF(d);
                    Py_DECREF(key);
                    return -1;
                }
                Py_DECREF(d);
            }
            Py_DECREF(key);
            if (set_item_ii(d, w->by_tix[i], Py_BuildValue("(LL)", (long long)w->by_bytes[i], (long long)w->by_count[i])) < 0)
                return -1;
            if (!(w->res_i & 1023) && now_s() >= deadline) return 0;
        }
        w->res_stage = 3;
    }
    w->result = build_result(w);
    return w->result ? 1 : -1;
}

static PyObject *build_result(Walker *w) {
    PyObject *res = PyDict_New(), *names = PyList_New((Py_ssize_t)w->ntypes), *outside = PyList_New(0),
             *stats = PyDict_New(), *phase = PyDict_New(), *arena = NULL;
    uint32_t *perm = NULL;
    if (!res || !names || !outside || !stats || !phase) goto fail;

    for (size_t t = 0; t < w->ntypes; t++) PyList_SET_ITEM(names, t, Py_NewRef(w->types[t].name));
    perm = mem_alloc(2 * (w->nout ? w->nout : 1) * sizeof(uint32_t), 0);
    if (!perm) goto fail;
    for (size_t i = 0; i < w->nout; i++) perm[i] = (uint32_t)i;
    sort_out(w, perm, perm + (w->nout ? w->nout : 1), w->nout);
    for (size_t i = 0; i < w->nout && i < OUTSIDE_CAP; i++) {
        uint32_t node = w->out_node[perm[i]];
        uint32_t c = w->comp[node];
        PyObject *e = Py_BuildValue("(OILI)", w->obj[node], w->out_def[perm[i]], (long long)w->size[node],
                                    c == NONE ? 0u : w->clab[c]);
        if (!e || PyList_Append(outside, e) < 0) {
            Py_XDECREF(e);
            goto fail;
        }
        Py_DECREF(e);
    }
    size_t nodes = 0, real = 0;
    for (size_t i = 0; i < w->n; i++) {
        if (w->flags[i] & (F_WALL | F_UNREACHED)) continue;
        nodes++;
        if (w->obj[i]) real++;
    }
    for (int p = 0; p < PH_DONE; p++) {
        if (w->phase_s[p] <= 0) continue;
        PyObject *v = PyFloat_FromDouble(w->phase_s[p]);
        if (!v || PyDict_SetItemString(phase, PHASE_NAMES[p], v) < 0) {
            Py_XDECREF(v);
            goto fail;
        }
        Py_DECREF(v);
    }
#define STAT(name, value)                                                         \
    do {                                                                          \
        PyObject *v_ = PyLong_FromLongLong((long long)(value));                   \
        if (!v_ || PyDict_SetItemString(stats, name, v_) < 0) {                   \
            Py_XDECREF(v_);                                                       \
            goto fail;                                                            \
        }                                                                         \
        Py_DECREF(v_);                                                            \
    } while (0)
    STAT("objects", w->objects_seen);
    STAT("nodes", nodes);
    STAT("inline", w->objects_seen - (int64_t)real);
    STAT("edges", w->ntgt);
    STAT("components", w->ncomp);
    STAT("labels", w->nlab);
    STAT("pseudo", PyDict_GET_SIZE(w->pseudo));
    STAT("outside", w->nout);
#undef STAT
    if (PyDict_SetItemString(stats, "phase_s", phase) < 0) goto fail;
    arena = PyBytes_FromStringAndSize((const char *)w->arena, (Py_ssize_t)(w->narena * sizeof(uint32_t)));
    if (!arena || PyDict_SetItemString(res, "arena", arena) < 0) goto fail;
    if (PyDict_SetItemString(res, "labels", w->r_labels) < 0 || PyDict_SetItemString(res, "totals", w->r_totals) < 0 ||
        PyDict_SetItemString(res, "by_type", w->r_bytype) < 0 || PyDict_SetItemString(res, "top", w->r_top) < 0 ||
        PyDict_SetItemString(res, "type_names", names) < 0 ||
        PyDict_SetItemString(res, "outside", outside) < 0 || PyDict_SetItemString(res, "stats", stats) < 0)
        goto fail;
    Py_CLEAR(w->r_labels);
    Py_CLEAR(w->r_totals);
    Py_CLEAR(w->r_bytype);
    Py_CLEAR(w->r_top);
    mem_free(perm);
    Py_DECREF(arena);
    Py_DECREF(names);
    Py_DECREF(outside);
    Py_DECREF(stats);
    Py_DECREF(phase);
    return res;
fail:
    mem_free(perm);
    Py_XDECREF(arena);
    Py_XDECREF(res);
    Py_XDECREF(names);
    Py_XDECREF(outside);
    Py_XDECREF(stats);
    Py_XDECREF(phase);
    return NULL;
}

/* ------------------------------------------------------------------ release */

static void walker_release(Walker *w) {
    for (size_t i = 0; i < w->n; i++) Py_XDECREF(w->obj[i]);
    w->n = 0;
    for (size_t i = 0; i < w->ntypes; i++) {
        Py_XDECREF(w->types[i].tp);
        Py_XDECREF(w->types[i].info);
        Py_XDECREF(w->types[i].name);
    }
    w->ntypes = 0;
    for (size_t i = 0; i < w->nframes; i++) free_frame(&w->frames[i]);
    w->nframes = 0;
    drop_cbuf(w, 0);
    for (size_t i = 0; i < w->ndeferred; i++) Py_DECREF(w->deferred[i]);
    w->ndeferred = 0;
    for (size_t i = 0; i < w->ninl; i++) Py_XDECREF(w->inl[i].bobj);
    w->ninl = 0;
    void **arrays[] = {(void **)&w->obj,     (void **)&w->found,     (void **)&w->tix,
                       (void **)&w->last,    (void **)&w->size,      (void **)&w->flags,
                       (void **)&w->esrc,    (void **)&w->edst,      (void **)&w->seed_node,
                       (void **)&w->seed_group, (void **)&w->types,  (void **)&w->inl,
                       (void **)&w->frames,  (void **)&w->cbuf,      (void **)&w->deferred,
                       (void **)&w->out_node, (void **)&w->out_def,  (void **)&w->off,
                       (void **)&w->tgt,     (void **)&w->index,     (void **)&w->low,
                       (void **)&w->comp,    (void **)&w->order,     (void **)&w->cstart,
                       (void **)&w->tstack,  (void **)&w->call_v,    (void **)&w->call_e,
                       (void **)&w->arena,   (void **)&w->lab_off,   (void **)&w->lab_len,
                       (void **)&w->lab_next, (void **)&w->clab,     (void **)&w->scratch,
                       (void **)&w->tot_bytes, (void **)&w->tot_count, (void **)&w->tot_seen,
                       (void **)&w->by_lab,  (void **)&w->by_tix,    (void **)&w->by_bytes,
                       (void **)&w->by_count, (void **)&w->cands,    (void **)&w->ncands};
    for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++) {
        mem_free(*arrays[i]);
        *arrays[i] = NULL;
    }
    w->ncap = w->necap = w->nseed = w->seedcap = w->typecap = w->inlcap = w->framecap = 0;
    w->cbufcap = w->defcap = w->nout = w->outcap = w->ncomp = w->cstartcap = w->norder = 0;
    w->ntstack = w->tstackcap = w->ncall = w->callcap = w->callcap2 = 0;
    w->narena = w->arenacap = w->nlab = w->labcap = w->scratchcap = 0;
    w->nby = w->bycap = 0;
    mem_free(w->tab.slots);
    memset(&w->tab, 0, sizeof(w->tab));
    map_free(&w->tmap);
    map_free(&w->omap);
    map_free(&w->imap);
    map_free(&w->lintern);
    map_free(&w->umemo);
    map_free(&w->bymap);
    Py_CLEAR(w->groups);
    Py_CLEAR(w->stops);
    Py_CLEAR(w->walls);
    Py_CLEAR(w->classify);
    Py_CLEAR(w->objects);
    Py_CLEAR(w->late_walls);
    Py_CLEAR(w->late);
    Py_CLEAR(w->kinds);
    Py_CLEAR(w->pseudo);
    Py_CLEAR(w->r_labels);
    Py_CLEAR(w->r_totals);
    Py_CLEAR(w->r_top);
    Py_CLEAR(w->r_bytype);
    Py_CLEAR(w->result);
}

/* ------------------------------------------------------------------ Python type */

static int Walker_init(Walker *w, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"groups", "stops", "walls", "classify", "objects",
                             "late_walls", "check_refs", "top_k", NULL};
    PyObject *groups, *stops, *walls, *classify, *objects, *late;
    int check = 1, top_k = 4;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!O!O!OO!O|pi", kwlist, &PyList_Type, &groups,
                                     &PyList_Type, &stops, &PyList_Type, &walls, &classify,
                                     &PyList_Type, &objects, &late, &check, &top_k))
        return -1;
    if (w->groups) {
        PyErr_SetString(PyExc_RuntimeError, "Walker already initialised");
        return -1;
    }
    w->groups = Py_NewRef(groups);
    w->stops = Py_NewRef(stops);
    w->walls = Py_NewRef(walls);
    w->classify = Py_NewRef(classify);
    w->objects = Py_NewRef(objects);
    w->late_walls = Py_NewRef(late);
    w->check_refs = check;
    w->top_k = top_k < 0 ? 0 : top_k;
    w->n_groups = PyList_GET_SIZE(groups);
    w->kinds = PyDict_New();
    w->pseudo = PyDict_New();
    if (!w->kinds || !w->pseudo) return -1;
    w->phase = PH_SETUP;
    return 0;
}

static PyObject *walker_steps(Walker *w, double deadline);
static PyObject *walker_steps_inner(Walker *w, double deadline);

static PyObject *Walker_step(Walker *w, PyObject *arg) {
    double budget = PyFloat_AsDouble(arg);
    if (budget == -1.0 && PyErr_Occurred()) return NULL;
    if (!w->groups && w->phase != PH_DONE) {
        PyErr_SetString(PyExc_RuntimeError, "the walker was released");
        return NULL;
    }
    if (w->busy) {
        PyErr_SetString(PyExc_RuntimeError, "the walker is already stepping");
        return NULL;
    }
    double start = now_s(), deadline = start + budget;
    PyObject *answer = walker_steps(w, deadline);
    if (w->release_pending) {
        w->release_pending = 0;
        walker_release(w);
    }
    return answer;
}

static PyObject *walker_steps(Walker *w, double deadline) {
    w->busy = 1;
    PyObject *answer = walker_steps_inner(w, deadline);
    w->busy = 0;
    return answer;
}

static PyObject *walker_steps_inner(Walker *w, double deadline) {
    while (w->phase != PH_DONE) {
        double t0 = now_s();
        int r;
        switch (w->phase) {
        case PH_SETUP: r = phase_setup(w, deadline); break;
        case PH_WALK: r = phase_walk(w, deadline); break;
        case PH_COUNT: r = phase_count(w, deadline); break;
        case PH_CHECK: r = phase_check(w, deadline); break;
        case PH_SCC: r = phase_scc(w, deadline); break;
        case PH_PROPAGATE: r = phase_propagate(w, deadline); break;
        case PH_ACCOUNT: r = phase_account(w, deadline); break;
        default: r = phase_result(w, deadline); break;
        }
        w->phase_s[w->phase] += now_s() - t0;
        if (r < 0) return NULL;
        if (r == 1) {
            w->phase++;
            if (w->phase == PH_DONE) break;
        }
        if (now_s() >= deadline) Py_RETURN_FALSE; /* also between phases */
    }
    Py_RETURN_TRUE;
}

static PyObject *Walker_result(Walker *w, PyObject *Py_UNUSED(ignored)) {
    if (!w->result) {
        PyErr_SetString(PyExc_RuntimeError, "the walk has not finished");
        return NULL;
    }
    return Py_NewRef(w->result);
}

static PyObject *Walker_label_of(Walker *w, PyObject *o) {
    if (w->busy || w->phase != PH_DONE) Py_RETURN_NONE;
    uint32_t idx = tab_get(w, o);
    if (idx == NONE || !w->comp || !w->clab || idx >= w->n || w->flags[idx] & (F_WALL | F_UNREACHED))
        Py_RETURN_NONE;
    uint32_t c = w->comp[idx];
    if (c == NONE || c >= w->ncomp) Py_RETURN_NONE;
    return PyLong_FromUnsignedLong(w->clab[c]);
}

static PyObject *Walker_truncate(Walker *w, PyObject *Py_UNUSED(ignored)) {
    if (w->busy) {
        PyErr_SetString(PyExc_RuntimeError, "truncate() while the walker is stepping");
        return NULL;
    }
    if (w->phase == PH_SETUP || w->phase == PH_WALK) {
        for (size_t i = 0; i < w->nframes; i++) free_frame(&w->frames[i]);
        w->nframes = 0;
        drop_cbuf(w, 0);
        w->phase = PH_COUNT;
    }
    Py_RETURN_NONE;
}

static PyObject *Walker_release(Walker *w, PyObject *Py_UNUSED(ignored)) {
    if (w->busy)
        w->release_pending = 1;
    else
        walker_release(w);
    Py_RETURN_NONE;
}

static PyObject *Walker_get_phase(Walker *w, void *Py_UNUSED(c)) {
    return PyUnicode_FromString(PHASE_NAMES[w->phase]);
}

static PyObject *Walker_get_objects(Walker *w, void *Py_UNUSED(c)) {
    return PyLong_FromLongLong((long long)w->objects_seen);
}

static int Walker_traverse(Walker *w, visitproc visit, void *arg) {
    Py_VISIT(w->groups);
    Py_VISIT(w->stops);
    Py_VISIT(w->walls);
    Py_VISIT(w->classify);
    Py_VISIT(w->objects);
    Py_VISIT(w->late_walls);
    Py_VISIT(w->late);
    Py_VISIT(w->kinds);
    Py_VISIT(w->pseudo);
    Py_VISIT(w->r_labels);
    Py_VISIT(w->r_totals);
    Py_VISIT(w->r_top);
    Py_VISIT(w->r_bytype);
    Py_VISIT(w->result);
    return 0;
}

static int Walker_clear(Walker *w) {
    if (w->busy)
        w->release_pending = 1;
    else
        walker_release(w);
    return 0;
}

static void Walker_dealloc(Walker *w) {
    PyObject_GC_UnTrack(w);
    walker_release(w);
    Py_TYPE(w)->tp_free((PyObject *)w);
}

static PyMethodDef Walker_methods[] = {
    {"step", (PyCFunction)Walker_step, METH_O,
     "step(budget_s) -> bool: work for about budget_s seconds; True once done."},
    {"result", (PyCFunction)Walker_result, METH_NOARGS, "The raw result dict."},
    {"label_of", (PyCFunction)Walker_label_of, METH_O, "Label id of a table node, or None."},
    {"release", (PyCFunction)Walker_release, METH_NOARGS, "Drop every reference (idempotent)."},
    {"truncate", (PyCFunction)Walker_truncate, METH_NOARGS,
     "Stop discovering; the later phases label what was found."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Walker_getset[] = {
    {"phase", (getter)Walker_get_phase, NULL, "Current phase name.", NULL},
    {"objects", (getter)Walker_get_objects, NULL, "Objects sized so far.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject WalkerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "memory_doctor.heap._walker.Walker",
    .tp_basicsize = sizeof(Walker),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The native heap walker (see memory_doctor.heap.pywalker for the reference).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Walker_init,
    .tp_dealloc = (destructor)Walker_dealloc,
    .tp_traverse = (traverseproc)Walker_traverse,
    .tp_clear = (inquiry)Walker_clear,
    .tp_methods = Walker_methods,
    .tp_getset = Walker_getset,
};

/* ------------------------------------------------------------------ cyclic garbage */

/* GarbageCounter(objects): what gc.collect() would free, found read-only and in
   resumable steps. `objects` is gc.get_objects() (held, so nothing in it dies
   meanwhile). The collector's own analysis: each object's references from
   outside the tracked heap are its reference count minus the references the
   tracked objects hold (tp_traverse); an object with some is reachable, and so
   is everything it reaches; what is left is cyclic garbage. */
typedef struct {
    PyObject_HEAD
    PyObject *objects; /* strong: the list */
    size_t n;
    uint32_t *slots; /* open addressing over indices (slot = index + 1) */
    size_t cap;
    int32_t *refs;  /* external references left */
    uint8_t *mark;  /* reachable */
    uint32_t *work; /* indices to traverse while marking */
    size_t nwork, workcap;
    int stage, busy;
    size_t i;
} Garbage;

static inline uint32_t g_get(const Garbage *g, PyObject *o) {
    size_t mask = g->cap - 1, j = mix64(ADDR(o)) & mask;
    for (;;) {
        uint32_t s = g->slots[j];
        if (!s) return NONE;
        if (PyList_GET_ITEM(g->objects, s - 1) == o) return s - 1;
        j = (j + 1) & mask;
    }
}

static int g_visit_sub(PyObject *o, void *arg) {
    Garbage *g = (Garbage *)arg;
    if (!o) return 0;
    uint32_t j = g_get(g, o);
    if (j != NONE) g->refs[j]--;
    return 0;
}

static int g_visit_mark(PyObject *o, void *arg) {
    Garbage *g = (Garbage *)arg;
    if (!o) return 0;
    uint32_t j = g_get(g, o);
    if (j == NONE || g->mark[j]) return 0;
    g->mark[j] = 1;
    if (g->nwork + 1 > g->workcap) {
        size_t cap = next_cap(g->workcap);
        uint32_t *nw = mem_realloc(g->work, cap * sizeof(uint32_t));
        if (!nw) return -1;
        g->work = nw;
        g->workcap = cap;
    }
    g->work[g->nwork++] = j;
    return 0;
}

static void garbage_release(Garbage *g) {
    mem_free(g->slots);
    mem_free(g->refs);
    mem_free(g->mark);
    mem_free(g->work);
    g->slots = NULL;
    g->refs = NULL;
    g->mark = NULL;
    g->work = NULL;
    g->cap = g->n = g->nwork = g->workcap = 0;
    Py_CLEAR(g->objects);
}

static int Garbage_init(Garbage *g, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"objects", NULL};
    PyObject *objects;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!", kwlist, &PyList_Type, &objects)) return -1;
    if (g->objects || g->stage) {
        PyErr_SetString(PyExc_RuntimeError, "GarbageCounter already initialised");
        return -1;
    }
    if (PyList_GET_SIZE(objects) >= (Py_ssize_t)NONE) {
        PyErr_SetString(PyExc_ValueError, "too many objects");
        return -1;
    }
    g->objects = Py_NewRef(objects);
    g->n = (size_t)PyList_GET_SIZE(objects);
    return 0;
}

/* One stage's chunks until the deadline; 1 when done, 0 for more, -1 on error. */
static int garbage_steps(Garbage *g, double deadline) {
    PyObject *list = g->objects;
    if ((size_t)PyList_GET_SIZE(list) != g->n) {
        PyErr_SetString(PyExc_RuntimeError, "the object list changed");
        return -1;
    }
    if (g->stage == 0) { /* the index and each object's count, less the list's reference */
        size_t cap = 1024;
        while (cap * 7 < g->n * 10) cap *= 2;
        g->slots = mem_alloc(cap * sizeof(uint32_t), 1);
        g->refs = mem_alloc((g->n ? g->n : 1) * sizeof(int32_t), 0);
        g->mark = mem_alloc(g->n ? g->n : 1, 1);
        if (!g->slots || !g->refs || !g->mark) {
            PyErr_NoMemory();
            return -1;
        }
        g->cap = cap;
        g->stage = 1;
        g->i = 0;
    }
    if (g->stage == 1) {
        size_t mask = g->cap - 1;
        while (g->i < g->n) {
            size_t stop = g->i + 65536 < g->n ? g->i + 65536 : g->n;
            for (size_t i = g->i; i < stop; i++) {
                PyObject *o = PyList_GET_ITEM(list, i);
                Py_ssize_t rc = Py_REFCNT(o) - 1;
                g->refs[i] = rc > INT32_MAX ? INT32_MAX : (int32_t)rc;
                size_t j = mix64(ADDR(o)) & mask;
                while (g->slots[j]) j = (j + 1) & mask;
                g->slots[j] = (uint32_t)i + 1;
            }
            g->i = stop;
            if (now_s() >= deadline) return 0;
        }
        g->stage = 2;
        g->i = 0;
    }
    if (g->stage == 2) { /* minus the references tracked objects hold */
        while (g->i < g->n) {
            size_t stop = g->i + 4096 < g->n ? g->i + 4096 : g->n;
            for (size_t i = g->i; i < stop; i++) {
                PyObject *o = PyList_GET_ITEM(list, i);
                traverseproc trav = Py_TYPE(o)->tp_traverse;
                if (trav && PyObject_IS_GC(o)) trav(o, g_visit_sub, g);
            }
            g->i = stop;
            if (now_s() >= deadline) return 0;
        }
        g->stage = 3;
        g->i = 0;
    }
    if (g->stage == 3) { /* what has outside references is reachable: the roots */
        for (size_t i = 0; i < g->n; i++) {
            if (g->refs[i] > 0 && !g->mark[i]) {
                g->mark[i] = 1;
                if (g->nwork + 1 > g->workcap) {
                    size_t cap = next_cap(g->workcap);
                    uint32_t *nw = mem_realloc(g->work, cap * sizeof(uint32_t));
                    if (!nw) {
                        PyErr_NoMemory();
                        return -1;
                    }
                    g->work = nw;
                    g->workcap = cap;
                }
                g->work[g->nwork++] = (uint32_t)i;
            }
        }
        mem_free(g->refs);
        g->refs = NULL;
        g->stage = 4;
        if (now_s() >= deadline) return 0;
    }
    if (g->stage == 4) { /* and everything they reach */
        unsigned tick = 0;
        while (g->nwork) {
            PyObject *o = PyList_GET_ITEM(list, g->work[--g->nwork]);
            traverseproc trav = Py_TYPE(o)->tp_traverse;
            if (trav && PyObject_IS_GC(o) && trav(o, g_visit_mark, g) < 0) {
                PyErr_NoMemory();
                return -1;
            }
            if (!(++tick & 4095) && now_s() >= deadline) return 0;
        }
        g->stage = 5;
    }
    return 1;
}

static PyObject *Garbage_step(Garbage *g, PyObject *arg) {
    double budget = PyFloat_AsDouble(arg);
    if (budget == -1.0 && PyErr_Occurred()) return NULL;
    if (!g->objects) {
        if (g->stage == 5) Py_RETURN_TRUE;
        PyErr_SetString(PyExc_RuntimeError, "the counter was released");
        return NULL;
    }
    if (g->busy) {
        PyErr_SetString(PyExc_RuntimeError, "the counter is already stepping");
        return NULL;
    }
    g->busy = 1;
    int r = garbage_steps(g, now_s() + budget);
    g->busy = 0;
    if (r < 0) {
        garbage_release(g);
        return NULL;
    }
    return PyBool_FromLong(r);
}

static PyObject *Garbage_garbage(Garbage *g, PyObject *Py_UNUSED(ignored)) {
    if (g->stage != 5 || !g->objects) {
        PyErr_SetString(PyExc_RuntimeError, "the count has not finished");
        return NULL;
    }
    PyObject *out = PyList_New(0);
    if (!out) return NULL;
    for (size_t i = 0; i < g->n; i++) {
        if (g->mark[i]) continue;
        if (PyList_Append(out, PyList_GET_ITEM(g->objects, i)) < 0) {
            Py_DECREF(out);
            return NULL;
        }
    }
    return out;
}

static PyObject *Garbage_release(Garbage *g, PyObject *Py_UNUSED(ignored)) {
    if (!g->busy) garbage_release(g);
    Py_RETURN_NONE;
}

static int Garbage_traverse(Garbage *g, visitproc visit, void *arg) {
    Py_VISIT(g->objects);
    return 0;
}

static int Garbage_clear(Garbage *g) {
    if (!g->busy) garbage_release(g);
    return 0;
}

static void Garbage_dealloc(Garbage *g) {
    PyObject_GC_UnTrack(g);
    garbage_release(g);
    Py_TYPE(g)->tp_free((PyObject *)g);
}

static PyMethodDef Garbage_methods[] = {
    {"step", (PyCFunction)Garbage_step, METH_O,
     "step(budget_s) -> bool: work for about budget_s seconds; True once done."},
    {"garbage", (PyCFunction)Garbage_garbage, METH_NOARGS, "A new list of the garbage found."},
    {"release", (PyCFunction)Garbage_release, METH_NOARGS, "Drop every reference (idempotent)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject GarbageType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "memory_doctor.heap._walker.GarbageCounter",
    .tp_basicsize = sizeof(Garbage),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Cyclic garbage, found read-only in steps (see memory_doctor.heap.garbage).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Garbage_init,
    .tp_dealloc = (destructor)Garbage_dealloc,
    .tp_traverse = (traverseproc)Garbage_traverse,
    .tp_clear = (inquiry)Garbage_clear,
    .tp_methods = Garbage_methods,
};

static struct PyModuleDef walker_module = {
    PyModuleDef_HEAD_INIT, "_walker", "Native engine of the memory_doctor heap walk.", -1, NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__walker(void) {
    if (PyType_Ready(&WalkerType) < 0 || PyType_Ready(&GarbageType) < 0) return NULL;
    PyObject *m = PyModule_Create(&walker_module);
    if (!m) return NULL;
    if (PyModule_AddObjectRef(m, "Walker", (PyObject *)&WalkerType) < 0 ||
        PyModule_AddObjectRef(m, "GarbageCounter", (PyObject *)&GarbageType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
