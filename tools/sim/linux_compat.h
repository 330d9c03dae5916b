/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel primitives the model's own part of the VM_BIND path uses, in user space: wait
 * queues and signals (futexes, POSIX timers). What the driver's rules use too (types,
 * atomics, lists, allocation) is src/driver/compat_user.h, included here.
 *
 * Names and semantics follow the kernel so that the model reads like the driver.
 */
#ifndef MSMVM_SIM_LINUX_COMPAT_H
#define MSMVM_SIM_LINUX_COMPAT_H

#include <errno.h>
#include <pthread.h>

#include "compat.h"	/* src/driver: types, atomics, lists, allocation, as the rules see them */

/* Kernel-internal errno, never seen by user space: the syscall is restarted or gets EINTR. */
#define ERESTARTSYS 512

#define TASK_INTERRUPTIBLE 0x0001

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
