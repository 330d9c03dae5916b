/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel primitives the driver's rules use, in user space (msmvm-sim, msmvm-tune).
 *
 * Only compiler headers are included (stdbool, stddef, stdint: they exist under
 * -ffreestanding), so the rules build without libc headers (make check-freestanding). The
 * few libc functions behind the allocators are declared here, not included.
 */
#ifndef MSMVM_DRIVER_COMPAT_USER_H
#define MSMVM_DRIVER_COMPAT_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint32_t u32;
typedef int32_t s32;
typedef uint64_t u64;
typedef int64_t s64;

/*
 * Functions the toolkit probes must stay real, separately named symbols: no inlining, no
 * IPA clones (.isra/.constprop would rename them), never dropped.
 */
#define __probed __attribute__((noinline, noipa, used))

#define SZ_4K  0x1000ULL
#define SZ_2M  0x200000ULL
#define SZ_16M 0x1000000ULL
#define SZ_1G  0x40000000ULL
#define SZ_4G  0x100000000ULL

#define ALIGN(x, a)      (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* Linux's values (asm-generic/errno-base.h), which are also glibc's. */
#ifndef ENOMEM
#define ENOMEM 12
#endif
#ifndef EINVAL
#define EINVAL 22
#endif

/* atomic_t as in the kernel: a struct around an int, so `in_flight.counter` is the field. */
typedef struct {
	int counter;
} atomic_t;

static inline int atomic_read(const atomic_t *v)
{
	return __atomic_load_n(&v->counter, __ATOMIC_RELAXED);
}

static inline void atomic_set(atomic_t *v, int i)
{
	__atomic_store_n(&v->counter, i, __ATOMIC_RELAXED);
}

static inline int atomic_add_return(int i, atomic_t *v)
{
	return __atomic_add_fetch(&v->counter, i, __ATOMIC_SEQ_CST);
}

static inline void atomic_add(int i, atomic_t *v)
{
	(void)atomic_add_return(i, v);
}

static inline void atomic_sub(int i, atomic_t *v)
{
	(void)__atomic_sub_fetch(&v->counter, i, __ATOMIC_SEQ_CST);
}

struct list_head {
	struct list_head *next, *prev;
};

static inline void INIT_LIST_HEAD(struct list_head *l)
{
	l->next = l->prev = l;
}

static inline bool list_empty(const struct list_head *l)
{
	return l->next == l;
}

static inline void list_add_tail(struct list_head *n, struct list_head *head)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

static inline void list_del_init(struct list_head *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	INIT_LIST_HEAD(e);
}

/* libc, declared rather than included (same prototypes as <stdlib.h>, <string.h>, <stdio.h>) */
void *calloc(size_t nmemb, size_t size);
void *malloc(size_t size);
void free(void *ptr);
void *memset(void *s, int c, size_t n);
int dprintf(int fd, const char *format, ...) __attribute__((format(printf, 2, 3)));

typedef unsigned int gfp_t;
#define GFP_KERNEL 0u

static inline void *kzalloc(size_t size, gfp_t gfp)
{
	(void)gfp;
	return calloc(1, size);
}

static inline void *kcalloc(size_t n, size_t size, gfp_t gfp)
{
	(void)gfp;
	return calloc(n, size);
}

/* kvmalloc_array() of the page pointers: zeroed here, which the driver does not need */
static inline void *kvmalloc_array(size_t n, size_t size, gfp_t gfp)
{
	(void)gfp;
	return calloc(n, size);
}

static inline void kfree(const void *p)
{
	free((void *)p);
}

static inline void kvfree(const void *p)
{
	free((void *)p);
}

/*
 * Page-table pages: the driver's kmem_cache "msm-mmu-pt" (pool pages, bulk) and the root
 * from alloc_pages. Here every one is a heap block of `size` bytes.
 */
static inline void *msm_pt_zalloc_page(size_t size)
{
	return calloc(1, size);
}

static inline void msm_pt_free_page(void *page)
{
	free(page);
}

/* kmem_cache_alloc_bulk() is all or nothing: count, or 0 with nothing allocated. */
static inline u32 msm_pt_alloc_bulk(size_t size, u32 count, void **pages)
{
	for (u32 i = 0; i < count; i++) {
		pages[i] = malloc(size);
		if (!pages[i]) {
			while (i--)
				free(pages[i]);
			return 0;
		}
	}
	return count;
}

static inline void msm_pt_free_bulk(u32 count, void **pages)
{
	for (u32 i = 0; i < count; i++)
		free(pages[i]);
}

/* The driver's warnings, on stderr, every time, with the prefix the model always used. */
#define pr_warn(fmt, ...) ((void)dprintf(2, "msmvm-sim: " fmt, ##__VA_ARGS__))

#endif
