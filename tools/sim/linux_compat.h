/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few kernel primitives the msm VM_BIND path uses, in user space.
 *
 * Names and semantics follow the kernel so that the model reads like the driver; the
 * implementations are the simplest user-space equivalents (C11 atomics, futexes).
 */
#ifndef MSMVM_SIM_LINUX_COMPAT_H
#define MSMVM_SIM_LINUX_COMPAT_H

#include <errno.h>
#include <pthread.h>
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

#define ALIGN(x, a)      (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* Kernel-internal errno, never seen by user space: the syscall is restarted or gets EINTR. */
#define ERESTARTSYS 512

#define TASK_INTERRUPTIBLE 0x0001

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

/*
 * Wait queues. The lock is a spinlock, as in the kernel, so that the only way a thread
 * sleeps in the throttle is schedule(): that keeps "slept" equal to "the thread's
 * voluntary context switch count changed", which is what the probes measure.
 */
struct wait_queue_entry {
	struct list_head entry;
	unsigned int flags;
	int woken;		/* futex word: 0 while the waiter may sleep */
	void *private;		/* the waiting task (pthread_self) */
};

struct wait_queue_head {
	struct list_head head;
	pthread_spinlock_t lock;
};
typedef struct wait_queue_head wait_queue_head_t;

void init_waitqueue_head(struct wait_queue_head *wq_head);
void init_wait_entry(struct wait_queue_entry *wq_entry, int flags);
long prepare_to_wait_event(struct wait_queue_head *wq_head, struct wait_queue_entry *wq_entry,
			   int state);
void finish_wait(struct wait_queue_head *wq_head, struct wait_queue_entry *wq_entry);
void schedule_on(struct wait_queue_entry *wq_entry);
void wake_up(struct wait_queue_head *wq_head);

/* Signals: the model's "current task" has a pending-signal flag set by a real signal. */
bool signal_pending_current(void);
void signal_deliver_current(void);	/* return to user space: the signal is handled */
void signal_arm_interrupt(unsigned int delay_us);	/* send SIGUSR1 to this thread later */
void signal_disarm_interrupt(void);
int signal_init_thread(void);
void signal_fini_thread(void);

#endif
